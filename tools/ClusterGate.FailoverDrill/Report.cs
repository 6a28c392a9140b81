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
        setup.AddRow("first crashed master", Markup.Escape($"{r.Master} (replicas {string.Join(", ", r.Replicas)})"));
        setup.AddRow("final master", Markup.Escape(r.FinalMaster ?? "-"));
        setup.AddRow("keys", Markup.Escape($"{r.KeyPattern}, slot {r.Slot}"));
        setup.AddRow("load", $"{r.Clients} clients, {r.Rate} SET/s total, {r.RunMs / 1000:0.#} s");
        setup.AddRow("crashes", $"{r.Crashes.Count} of {r.CrashesRequested}; each cycle ≥ {r.DurationMs / 1000:0.#} s, crash {r.CrashAfterMs / 1000:0.#} s into it");
        setup.AddRow("promotion poller", Markup.Escape($"CLUSTER NODES on {r.Survivor} every 10 ms"));
        setup.AddRow("restart", Markup.Escape(r.RestartMethod));
        console.Write(setup);

        var crashes = new Table().Border(TableBorder.Rounded).Title("Per crash (ms from T0 = DEBUG SEGFAULT sent, unless noted)")
            .AddColumn(new TableColumn("#").RightAligned()).AddColumn("T0 at").AddColumn("crashed → new master")
            .AddColumn(new TableColumn("confirmed").RightAligned()).AddColumn(new TableColumn("fail flag").RightAligned())
            .AddColumn(new TableColumn("[bold]T1-T0[/] promoted").RightAligned()).AddColumn(new TableColumn("[bold]T2-T0[/]").RightAligned())
            .AddColumn(new TableColumn("[bold]T2-T1[/]").RightAligned()).AddColumn(new TableColumn("acked").RightAligned())
            .AddColumn("errors").AddColumn(new TableColumn("disc").RightAligned()).AddColumn(new TableColumn("lost").RightAligned())
            .AddColumn(new TableColumn("rejoined s").RightAligned());
        foreach (var c in r.Crashes)
        {
            var errors = string.Join(" ", c.Errors.Where(e => e.Kind != "DISCONNECT").Select(e => $"{e.Kind}:{e.Count}"));
            crashes.AddRow(c.Index.ToString(CultureInfo.InvariantCulture), c.CrashAtClock, Markup.Escape($"{Port(c.Crashed)} → {Port(c.NewMaster)}"),
                Fmt(c.CrashConfirmedMs), Fmt(c.FailFlagMs), Fmt(c.PromotionMs), Fmt(c.FirstWriteAfterCrashMs), Slow(c.PromotionToFirstWriteMs),
                N(c.Acked), errors.Length == 0 ? "-" : Markup.Escape(errors), N(c.Disconnects), c.Lost > 0 ? $"[red]{N(c.Lost)}[/]" : "0",
                c.RejoinedMs is { } rejoined ? (rejoined / 1000).ToString("0.0", CultureInfo.InvariantCulture) : "-");
        }

        console.Write(crashes);
        console.MarkupLine("[grey]confirmed = the crashed process closed its connections (after its crash report); T1 = another master owns the drill's slot on the poller; T2 = first ack of a write sent after the crash was confirmed, or after T1 if that came first; errors by kind, disc = disconnects, lost = acknowledged in that cycle but missing on the final master.[/]");

        var counts = new Table().Border(TableBorder.Rounded).AddColumn("Totals").AddColumn(new TableColumn("value").RightAligned());
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
        counts.AddRow("[bold]promotion → first write (T2-T1)[/], max / median ms", $"{Fmt(r.MaxPromotionToFirstWriteMs)} / {Fmt(r.MedianPromotionToFirstWriteMs)}");
        counts.AddRow("crash → first write (T2-T0), max / median ms", $"{Fmt(r.MaxFirstWriteAfterCrashMs)} / {Fmt(r.MedianFirstWriteAfterCrashMs)}");
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
        var notes = r.Notes
            .Concat(r.Crashes.Where(c => c.Note is not null).Select(c => $"crash {c.Index}: {c.Note}"))
            .Concat(r.Crashes.Where(c => c.Lost > 0).Select(c => $"crash {c.Index}: {c.Lost} lost writes acknowledged from {Fmt(c.LostAckedFromMs)} to {Fmt(c.LostAckedToMs)} ms after T0"))
            .Concat(r.Crashes.Where(c => c.RestartNote is not null && c.RejoinedMs is null).Select(c => $"crash {c.Index}: {c.RestartNote}"))
            .Append(r.VerifyNote)
            .Concat(r.LostSamples.Select(s => "lost: " + s));
        foreach (var note in notes)
        {
            if (!string.IsNullOrEmpty(note))
            {
                console.MarkupLine($"[grey]{Markup.Escape(note)}[/]");
            }
        }
    }

    private static string Port(string? address) => address is null ? "?" : address[(address.LastIndexOf(':') + 1)..];

    /// <summary>Promotion → first write above 100 ms stands out: that is the failover worth a look.</summary>
    private static string Slow(double? ms) => ms > 100 ? $"[red]{Fmt(ms)}[/]" : Fmt(ms);

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
