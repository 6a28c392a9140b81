using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace ClusterGate.FailoverDrill;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(DrillResult))]
internal sealed partial class DrillJsonContext : JsonSerializerContext;

internal static class Report
{
    public static string Json(DrillResult r) => JsonSerializer.Serialize(r, DrillJsonContext.Default.DrillResult);

    public static void Table(DrillResult r, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(console);
        console.Write(new Rule($"[bold]Failover drill[/] {Markup.Escape(r.Target)} (run {r.RunId})").LeftJustified());

        var setup = new Table().Border(TableBorder.Rounded).AddColumn("Setup").AddColumn("Value");
        setup.AddRow("target", Markup.Escape(r.Target));
        setup.AddRow("crashed master", Markup.Escape($"{r.Master} (replicas {string.Join(", ", r.Replicas)})"));
        setup.AddRow("new master", Markup.Escape(r.NewMaster ?? "-"));
        setup.AddRow("keys", Markup.Escape($"{r.KeyPattern}, slot {r.Slot}"));
        setup.AddRow("load", $"{r.Clients} clients, {r.Rate} SET/s total, {r.DurationMs / 1000:0.#} s, crash at {r.CrashAtMs / 1000 ?? double.NaN:0.###} s");
        setup.AddRow("promotion poller", Markup.Escape($"CLUSTER NODES on {r.Survivor} every 10 ms ({r.Polls} polls)"));
        console.Write(setup);

        var timing = new Table().Border(TableBorder.Rounded).AddColumn("Timeline (from T0 = DEBUG SEGFAULT sent)").AddColumn(new TableColumn("ms").RightAligned());
        timing.AddRow("crash confirmed (control connection closed)", Fmt(r.CrashConfirmedMs));
        timing.AddRow("last ack before crash", Fmt(r.LastAckBeforeCrashMs));
        timing.AddRow("first failed write after crash", Fmt(r.FirstFailureAfterCrashMs));
        timing.AddRow("crashed master flagged fail?/fail on poller", Fmt(r.FailFlagMs));
        timing.AddRow("[bold]crash → promotion visible (T1-T0)[/]", Fmt(r.PromotionMs));
        timing.AddRow("[bold]crash → first successful write (T2-T0)[/]", Fmt(r.FirstWriteAfterCrashMs));
        timing.AddRow("[bold]promotion → first successful write (T2-T1)[/]", Fmt(r.PromotionToFirstWriteMs));
        timing.AddRow("promotion → first ack completed after it", Fmt(r.FirstAckCompletedAfterPromotionMs));
        console.Write(timing);

        var counts = new Table().Border(TableBorder.Rounded).AddColumn("Writes").AddColumn(new TableColumn("count").RightAligned());
        counts.AddRow("attempted", N(r.Attempted));
        counts.AddRow("acknowledged (OK)", N(r.Acked));
        counts.AddRow("error replies", N(r.Errors.Where(e => e.Kind is not ("DISCONNECT" or "TIMEOUT")).Sum(e => e.Count)));
        counts.AddRow("disconnects (outcome unknown)", N(r.Disconnects));
        counts.AddRow("timeouts (outcome unknown)", N(r.Timeouts));
        counts.AddRow("failed reconnects", N(r.ConnectFailures));
        var lost = r.LostMissing + r.LostWrong;
        counts.AddRow("[bold]acknowledged but lost[/]", r.VerifyNote is null
            ? $"{(lost > 0 ? "[red]" : "[green]")}{N(lost)}[/] of {N(r.Verified)} verified ({N(r.LostMissing)} missing, {N(r.LostWrong)} wrong)"
            : "[yellow]not verified[/]");
        console.Write(counts);

        if (r.Errors.Count > 0)
        {
            var errors = new Table().Border(TableBorder.Rounded).AddColumn("Failure kind").AddColumn(new TableColumn("count").RightAligned())
                .AddColumn(new TableColumn("first..last s").RightAligned()).AddColumn("sample");
            foreach (var e in r.Errors)
            {
                errors.AddRow(Markup.Escape(e.Kind), N(e.Count), $"{e.FirstMs / 1000:0.000}..{e.LastMs / 1000:0.000}", Markup.Escape(Truncate(e.Sample, 70)));
            }

            console.Write(errors);
        }

        console.MarkupLine("timeline from the start of the writers, one mark per 500 ms ([green]█[/] all ok, [yellow]▒[/] some failed, [red]x[/] none ok, · no replies):");
        console.MarkupLine(Sparkline(r.Timeline));
        foreach (var note in r.Notes.Append(r.VerifyNote).Concat(r.LostSamples.Select(s => "lost: " + s)).Append(r.RestartNote ?? $"restart: {(r.Restarted ? "done" : "off")} ({r.RestartMethod})"))
        {
            if (!string.IsNullOrEmpty(note))
            {
                console.MarkupLine($"[grey]{Markup.Escape(note)}[/]");
            }
        }
    }

    private static string Sparkline(List<TimelineBucket> timeline)
    {
        var sb = new StringBuilder();
        foreach (var b in timeline)
        {
            sb.Append(b switch
            {
                { Acked: 0, Failed: 0 } => "·",
                { Acked: 0 } => "[red]x[/]",
                { Failed: > 0 } => "[yellow]▒[/]",
                _ => "[green]█[/]",
            });
        }

        return sb.ToString();
    }

    private static string Fmt(double? ms) => ms?.ToString("0.0", CultureInfo.InvariantCulture) ?? "-";

    private static string N(int value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
