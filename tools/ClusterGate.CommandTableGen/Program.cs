using System.CommandLine;
using System.Net.Sockets;
using ClusterGate.CommandTableGen;
using ClusterGate.Core.Routing.Commands;

var host = new Option<string>("--host") { Description = "Redis node to read COMMAND from.", DefaultValueFactory = _ => "127.0.0.1" };
var port = new Option<int>("--port") { Description = "Port of the node.", Required = true };
var output = new Option<FileInfo>("--out") { Description = "The C# file to write (src/ClusterGate.Core/Routing/Commands/CommandTable.Generated.cs).", Required = true };
var check = new Option<bool>("--check") { Description = "Write nothing; exit 1 when the file differs from what the server gives." };

var root = new RootCommand("Generates ClusterGate's command table (names, arity, flags, key specs) from a live Redis COMMAND reply.")
{
    host, port, output, check,
};

root.SetAction(async (parse, ct) =>
{
    var node = parse.GetValue(host)!;
    var nodePort = parse.GetValue(port);
    var file = parse.GetValue(output)!;
    try
    {
        var version = await CommandReader.VersionAsync(node, nodePort, ct);
        var unknown = new SortedSet<string>(StringComparer.Ordinal);
        var commands = CommandReplyParser.Parse(await CommandReader.SendAsync(node, nodePort, ct, "COMMAND"), unknown);
        foreach (var flag in unknown)
        {
            Console.Error.WriteLine($"commandtablegen: warning: flag not known to CommandSpecFlags/KeySpecFlags, left out: {flag}");
        }

        var body = TableWriter.Body(version, commands);
        var existing = file.Exists ? await File.ReadAllTextAsync(file.FullName, ct) : null;

        // The header carries the date; keep the old one when nothing else changed, so a re-run gives no diff.
        var newline = existing?.IndexOf('\n', StringComparison.Ordinal) ?? -1;
        if (newline >= 0 && existing![..newline].StartsWith(TableWriter.HeaderPrefix, StringComparison.Ordinal)
            && string.Equals(existing[(newline + 1)..], body, StringComparison.Ordinal))
        {
            Console.WriteLine($"{file.FullName}: unchanged ({commands.Count} commands, Redis {version}).");
            return 0;
        }

        if (parse.GetValue(check))
        {
            Console.Error.WriteLine($"{file.FullName}: differs from COMMAND of Redis {version} at {node}:{nodePort}.");
            return 1;
        }

        var header = TableWriter.Header(version, DateOnly.FromDateTime(DateTime.UtcNow));
        await File.WriteAllTextAsync(file.FullName, header + "\n" + body, ct);
        Console.WriteLine($"{file.FullName}: wrote {commands.Count} commands, {commands.Sum(c => c.Subcommands.Length)} subcommands (Redis {version}).");
        return 0;
    }
    catch (Exception e) when (e is IOException or SocketException)
    {
        Console.Error.WriteLine($"commandtablegen: {e.Message}");
        return 2;
    }
});

return await root.Parse(args).InvokeAsync();
