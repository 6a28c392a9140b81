using System.Buffers;
using System.Globalization;
using System.Text;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;

namespace ClusterGate.IntegrationTests.Routing;

/// <summary>
/// <see cref="KeyFinder"/> against the real <c>COMMAND GETKEYS</c>, and the checked-in generated table against the
/// fixture's own <c>COMMAND</c>. Replies are read by the fixture's <see cref="RespProbe"/>, not by ClusterGate's RESP
/// code. Every key in a line has a distinct name, so comparing names compares positions.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class KeyFinderAgainstRedisTests(RedisClusterFixture fixture)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    // "" is an empty argument.
    private static readonly string[] CommandLines =
    [
        "GET k1", "SET k1 v EX 10 NX GET", "GETEX k1 PERSIST", "MGET k1 k2 k3", "MSET k1 v1 k2 v2 k3 v3", "MSETNX k1 v1 k2 v2",
        "DEL k1 k2", "UNLINK k1 k2 k3", "EXISTS k1 k2 k3", "TOUCH k1 k2", "RENAME k1 k2", "RENAMENX k1 k2", "COPY k1 k2 REPLACE",
        "SMOVE s1 s2 member", "LMOVE l1 l2 LEFT RIGHT", "BLMOVE l1 l2 LEFT RIGHT 0", "RPOPLPUSH l1 l2", "BRPOPLPUSH l1 l2 0",
        "BLPOP l1 l2 l3 0", "BRPOP l1 1.5", "BZPOPMIN z1 z2 0", "BZPOPMAX z1 0",
        "EVAL script 2 k1 k2 a1 a2", "EVAL script 0 a1", "EVALSHA sha 1 k1 a1", "EVAL_RO script 1 k1", "EVALSHA_RO sha 0",
        "FCALL f 2 k1 k2 a1", "FCALL_RO f 1 k1",
        "XREAD COUNT 2 STREAMS s1 s2 0 0", "XREAD BLOCK 0 STREAMS s1 $", "XREADGROUP GROUP g c COUNT 1 STREAMS s1 s2 > >",
        "XREADGROUP GROUP STREAMS STREAMS STREAMS s1 >", "XADD s1 * f v", "XRANGE s1 - +", "XINFO STREAM s1 FULL", "XGROUP CREATE s1 g $",
        "XAUTOCLAIM s1 g c 10 0", "XCLAIM s1 g c 10 0-1",
        "ZUNIONSTORE dst 2 z1 z2 WEIGHTS 1 2", "ZINTERSTORE dst 1 z1", "ZDIFFSTORE dst 2 z1 z2", "ZUNION 2 z1 z2 WITHSCORES",
        "ZINTER 3 z1 z2 z3", "ZDIFF 1 z1", "ZRANGESTORE dst z1 0 -1",
        "LMPOP 2 l1 l2 LEFT COUNT 1", "BLMPOP 0 2 l1 l2 LEFT", "ZMPOP 1 z1 MIN", "BZMPOP 0 2 z1 z2 MAX COUNT 2",
        "ZINTERCARD 2 z1 z2 LIMIT 1", "SINTERCARD 3 s1 s2 s3", "SINTERSTORE dst s1 s2", "SUNION s1 s2", "SDIFF s1 s2 s3",
        "SORT k1", "SORT k1 BY w_* GET o_* LIMIT 0 10 ALPHA STORE dst", "SORT k1 GET STORE", "SORT_RO k1 BY w_*",
        "MIGRATE host 6379 k1 0 1000", "MIGRATE host 6379 \"\" 0 1000 COPY REPLACE KEYS k1 k2",
        "MIGRATE host 6379 \"\" 0 1000 AUTH KEYS KEYS k1",
        "OBJECT ENCODING k1", "OBJECT FREQ k1", "MEMORY USAGE k1 SAMPLES 5", "DEBUG OBJECT k1",
        "GEORADIUS g1 0 0 1 km STORE dst", "GEORADIUSBYMEMBER g1 m 1 km STOREDIST dst", "GEOSEARCHSTORE dst g1 FROMMEMBER m BYRADIUS 1 km",
        "GEOADD g1 0 0 m", "BITOP AND dst k1 k2", "BITFIELD k1 GET u8 0", "BITFIELD_RO k1 GET u8 0", "LCS k1 k2",
        "PFMERGE dst h1 h2", "PFCOUNT h1 h2", "WATCH k1 k2", "HSET h1 f v", "LPUSH l1 a b", "SADD s1 a", "ZADD z1 1 a",
        "EXPIRE k1 10", "DUMP k1", "RESTORE k1 0 payload", "TYPE k1", "SPUBLISH ch msg", "SSUBSCRIBE ch1 ch2",
    ];

    [Fact]
    public async Task FindKeys_RealCommandLines_MatchCommandGetkeys()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var port = fixture.Cluster.Nodes.First(n => n.IsRunning).Port;
        var mismatches = new List<string>();

        foreach (var line in CommandLines)
        {
            var args = Split(line);
            var expected = await GetKeysAsync(port, args, cts.Token);
            var actual = FindKeys(args);
            if (!Same(expected, actual))
            {
                mismatches.Add($"{line}: COMMAND GETKEYS={Show(expected)}, KeyFinder={Show(actual)}");
            }
        }

        Assert.True(CommandLines.Length >= 60);
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {CommandLines.Length} lines differ:\n{string.Join('\n', mismatches)}");
    }

    [Fact]
    public async Task GeneratedTable_ComparedWithLiveCommand_SameNamesArityAndKeyPositions()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var port = fixture.Cluster.Nodes.First(n => n.IsRunning).Port;
        var reply = (object?[])(await RespProbe.SendAsync(port, Timeout, cts.Token, "COMMAND"))!;

        // Names, arity and first/last/step straight from the probe's reply, without ClusterGate's parser.
        var live = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in reply.Cast<object?[]>())
        {
            AddRaw(live, entry);
        }

        var generated = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var command in CommandCatalog.Default.Commands)
        {
            AddGenerated(generated, command);
        }

        Assert.Equal(live, generated);

        // Flags, key specs and tips, through the shared reply parser.
        var parsed = CommandReplyParser.Parse(ToRespValue(reply)).ToDictionary(static c => c.Name, StringComparer.Ordinal);
        foreach (var command in CommandCatalog.Default.Commands)
        {
            var liveCommand = parsed[command.Name];
            Assert.Equal(Describe(liveCommand), Describe(command));
        }
    }

    private static async Task<string[]?> GetKeysAsync(int port, string[] args, CancellationToken ct)
    {
        try
        {
            var reply = await RespProbe.SendAsync(port, Timeout, ct, ["COMMAND", "GETKEYS", .. args]);
            return [.. ((object?[])reply!).Cast<string>()];
        }
        catch (RespErrorException e) when (e.Message.Contains("no key arguments", StringComparison.Ordinal))
        {
            return [];
        }
        catch (RespErrorException)
        {
            // "Invalid arguments specified for command": Redis cannot tell either.
            return null;
        }
    }

    private static string[]? FindKeys(string[] args)
    {
        var frame = Frame(args);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
        using var request = new RespRequest();
        Assert.Equal(RespScanStatus.Complete, RespRequestParser.TryParse(ref reader, RespLimits.Default, request, out _));
        var spec = CommandCatalog.Default.Find(request);
        Assert.NotNull(spec);
        var indexes = new int[request.Count];
        var count = KeyFinder.FindKeys(request, spec, indexes);
        return count < 0 ? null : [.. indexes.Take(count).Select(i => args[i])];
    }

    private static void AddRaw(SortedDictionary<string, string> into, object?[] entry)
    {
        var name = (string)entry[0]!;
        into[name] = string.Create(CultureInfo.InvariantCulture, $"arity {entry[1]}, keys {entry[3]} {entry[4]} {entry[5]}");
        if (entry.Length > 9)
        {
            foreach (var sub in ((object?[])entry[9]!).Cast<object?[]>())
            {
                AddRaw(into, sub);
            }
        }
    }

    private static void AddGenerated(SortedDictionary<string, string> into, CommandSpec command)
    {
        into[command.Name] = string.Create(CultureInfo.InvariantCulture, $"arity {command.Arity}, keys {command.FirstKey} {command.LastKey} {command.Step}");
        foreach (var sub in command.Subcommands)
        {
            AddGenerated(into, sub);
        }
    }

    private static string Describe(CommandSpec command) =>
        $"{command.Name} {command.Arity} {command.Flags} {command.FirstKey} {command.LastKey} {command.Step} "
        + $"[{string.Join("; ", command.KeySpecs)}] [{string.Join(", ", command.Tips)}] "
        + $"[{string.Join(" / ", command.Subcommands.OrderBy(static s => s.Name, StringComparer.Ordinal).Select(Describe))}]";

    private static RespValue ToRespValue(object? value) => value switch
    {
        null => RespValue.NullBulk,
        string text => RespValue.Bulk(text),
        long integer => RespValue.Int(integer),
        object?[] items => RespValue.Array([.. items.Select(ToRespValue)]),
        _ => throw new InvalidDataException($"Unexpected reply element {value}."),
    };

    private static string[] Split(string line) =>
        [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(static a => a == "\"\"" ? string.Empty : a)];

    private static byte[] Frame(string[] args)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"*{args.Length}\r\n");
        foreach (var arg in args)
        {
            text.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static bool Same(string[]? a, string[]? b) => a is null ? b is null : b is not null && a.SequenceEqual(b, StringComparer.Ordinal);

    private static string Show(string[]? keys) => keys is null ? "(undetermined)" : $"[{string.Join(", ", keys)}]";
}
