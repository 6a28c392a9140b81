using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ClusterGate.Hostile.Run;
using Spectre.Console;

namespace ClusterGate.Hostile;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(RunResult))]
internal sealed partial class HostileJsonContext : JsonSerializerContext;

/// <summary>The run as one table (one row per probe) with details under it, or as one JSON object.</summary>
internal static class Report
{
    public static string Json(RunResult r) => JsonSerializer.Serialize(r, HostileJsonContext.Default.RunResult);

    public static void Table(RunResult r, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(console);
        var pid = r.Pid is { } id ? $"pid {id}" : "no --pid";
        console.Write(new Rule($"[bold]Hostile clients[/] {Markup.Escape(r.Target)} ({Markup.Escape(pid)}, good key {Markup.Escape(r.GoodKey)})").LeftJustified());

        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("probe")
            .AddColumn("reply")
            .AddColumn(new TableColumn("good errors").RightAligned())
            .AddColumn(new TableColumn("good max ms").RightAligned())
            .AddColumn(new TableColumn("RSS MB before→after (peak)").RightAligned())
            .AddColumn(new TableColumn("fds before→after (peak)").RightAligned());
        var withNode = r.Node is not null;
        if (withNode)
        {
            table.AddColumn(new TableColumn("node clients before→after").RightAligned());
        }

        table.AddColumn("alive");
        foreach (var p in r.Probes)
        {
            var cells = new List<string>
            {
                Markup.Escape(p.Probe),
                p.Skipped is null ? Markup.Escape(p.Reply) : $"[grey]{Markup.Escape(p.Reply)}[/]",
                p.Skipped is null ? Errors(p) : "-",
                p.Skipped is null ? Ms(p.GoodMaxMs) : "-",
                Pair(p.RssBeforeMb, p.RssAfterMb, p.RssPeakMb, "0.0"),
                Pair(p.FdsBefore, p.FdsAfter, p.FdsPeak, "N0"),
            };
            if (withNode)
            {
                cells.Add(Pair(p.NodeClientsBefore, p.NodeClientsAfter, null, "N0") + Role(p));
            }

            cells.Add(p.Alive ? "[green]yes[/]" : $"[red]NO[/] {Markup.Escape(p.AliveNote ?? string.Empty)}");
            table.AddRow(cells.ToArray());
        }

        console.Write(table);
        foreach (var p in r.Probes)
        {
            var lines = p.Details.ToList();
            if (p.GoodFirstError is { } error)
            {
                lines.Add($"good client's first error: {error}");
            }

            if (p.Skipped is null)
            {
                lines.Add($"ran {p.ElapsedMs / 1000:0.0} s, settled {p.SettleMs / 1000:0.0} s; good client {p.GoodCommands:N0} commands");
            }

            console.MarkupLine($"[bold]{Markup.Escape(p.Probe)}[/]");
            foreach (var line in lines)
            {
                console.MarkupLine($"  [grey]{Markup.Escape(line)}[/]");
            }
        }

        foreach (var note in r.Notes)
        {
            console.MarkupLine($"[yellow]{Markup.Escape(note)}[/]");
        }
    }

    private static string Errors(ProbeResult p) => p.GoodErrors == 0
        ? $"[green]0[/]/{p.GoodCommands.ToString("N0", CultureInfo.InvariantCulture)}"
        : $"[red]{p.GoodErrors.ToString("N0", CultureInfo.InvariantCulture)}[/]/{p.GoodCommands.ToString("N0", CultureInfo.InvariantCulture)}";

    /// <summary>Nothing while --node stays a master; its roles when it is not (a failover: the cluster gave up on it).</summary>
    private static string Role(ProbeResult p) =>
        (p.NodeRoleBefore ?? "master") == "master" && (p.NodeRoleAfter ?? "master") == "master"
            ? string.Empty
            : $"\n[red]role {Markup.Escape(p.NodeRoleBefore ?? "-")}→{Markup.Escape(p.NodeRoleAfter ?? "-")}[/]";

    private static string Ms(double? ms) => ms?.ToString("N1", CultureInfo.InvariantCulture) ?? "-";

    private static string Pair<T>(T? before, T? after, T? peak, string format)
        where T : struct, IFormattable
    {
        if (before is null && after is null)
        {
            return "-";
        }

        var text = $"{Fmt(before, format)}→{Fmt(after, format)}";
        return peak is { } p ? $"{text} ({p.ToString(format, CultureInfo.InvariantCulture)})" : text;
    }

    private static string Fmt<T>(T? value, string format)
        where T : struct, IFormattable => value?.ToString(format, CultureInfo.InvariantCulture) ?? "-";
}
