using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ClusterGate.Configuration;

namespace ClusterGate.Cli;

/// <summary>
/// <c>clustergate status</c>: asks a running gateway's admin port for /shards and /topology and
/// prints one row per shard port. Lets scripts (the demo) wait for a gateway without curl.
/// </summary>
internal static class StatusCommand
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(250);
    private static readonly string[] Header = ["PORT", "GROUP", "MASTER", "REPLICAS", "SLOTS"];

    public static Command Create(TextWriter output, TextWriter error)
    {
        var admin = new Option<string>("--admin") { Description = "Admin base URL of a running gateway.", DefaultValueFactory = _ => "http://127.0.0.1:7180" };
        var wait = new Option<string?>("--wait") { Description = "Keep trying for this long until the gateway answers, e.g. 60s (default: one try)." };
        var command = new Command("status", "Print the shard ports of a running gateway (from its admin port): port, group, master, replicas, slots.")
        {
            admin, wait,
        };
        command.SetAction(async (parse, ct) =>
        {
            var waitText = parse.GetValue(wait);
            var waitFor = TimeSpan.Zero;
            if (waitText is not null && !DurationParser.TryParse(waitText, out waitFor))
            {
                await error.WriteLineAsync($"clustergate: --wait '{waitText}': expected {DurationParser.Expected}");
                return 2;
            }

            if (!Uri.TryCreate(parse.GetValue(admin), UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            {
                await error.WriteLineAsync($"clustergate: --admin '{parse.GetValue(admin)}': expected an http:// URL");
                return 2;
            }

            return await RunAsync(baseUri, waitFor, output, error, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(Uri baseUri, TimeSpan waitFor, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(5) };
        var time = TimeProvider.System;
        var deadline = time.GetUtcNow() + waitFor;
        while (true)
        {
            try
            {
                using var shards = JsonDocument.Parse(await http.GetStringAsync(new Uri("shards", UriKind.Relative), cancellationToken));
                using var topology = JsonDocument.Parse(await http.GetStringAsync(new Uri("topology", UriKind.Relative), cancellationToken));
                await output.WriteAsync(FormatTable(shards.RootElement, topology.RootElement));
                return 0;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
            {
                if (time.GetUtcNow() >= deadline)
                {
                    await error.WriteLineAsync($"clustergate: {baseUri} did not answer: {ex.Message}");
                    return 1;
                }

                await Task.Delay(RetryInterval, time, cancellationToken);
            }
        }
    }

    internal static string FormatTable(JsonElement shards, JsonElement topology)
    {
        var groups = topology.GetProperty("groups").EnumerateArray().ToDictionary(g => g.GetProperty("id").GetInt32());
        var rows = new List<string[]> { Header };
        foreach (var shard in shards.GetProperty("shards").EnumerateArray())
        {
            var id = shard.GetProperty("group").GetInt32();
            var master = shard.GetProperty("master").ValueKind == JsonValueKind.String ? shard.GetProperty("master").GetString()! : "-";
            if (!shard.GetProperty("masterConfirmed").GetBoolean())
            {
                master += " (unconfirmed)";
            }

            var replicas = "-";
            var slots = "-";
            if (groups.TryGetValue(id, out var group))
            {
                var list = group.GetProperty("replicas").EnumerateArray()
                    .Select(r => $"{r.GetProperty("host").GetString()}:{r.GetProperty("port").GetInt32()}{(r.GetProperty("down").GetBoolean() ? " (down)" : "")}")
                    .ToList();
                replicas = list.Count == 0 ? "-" : string.Join(", ", list);
                var ranges = group.GetProperty("slots").EnumerateArray()
                    .Select(r => r[0].GetInt32() == r[1].GetInt32() ? $"{r[0].GetInt32()}" : $"{r[0].GetInt32()}-{r[1].GetInt32()}")
                    .ToList();
                slots = ranges.Count == 0 ? "-" : string.Join(' ', ranges);
            }

            rows.Add([shard.GetProperty("port").GetInt32().ToString(CultureInfo.InvariantCulture), id.ToString(CultureInfo.InvariantCulture), master, replicas, slots]);
        }

        var widths = Enumerable.Range(0, 5).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length; c++)
            {
                text.Append(c == row.Length - 1 ? row[c] : row[c].PadRight(widths[c] + 2));
            }

            text.Append('\n');
        }

        return text.ToString();
    }
}
