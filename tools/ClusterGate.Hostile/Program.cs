using System.CommandLine;
using ClusterGate.Hostile;
using ClusterGate.Hostile.Probes;
using ClusterGate.Hostile.Resp;
using ClusterGate.Hostile.Run;
using Spectre.Console;

var defaults = new HostileOptions { Target = "", Probes = [] };
string D(TimeSpan span) => Durations.Format(span);

var target = new Option<string>("--target") { Description = "The Redis-speaking port under test, HOST:PORT (gateway shard port, router port, HAProxy, a Redis node).", Required = true };
var pid = new Option<int?>("--pid") { Description = "Pid of the process under test: RSS, descriptors, liveness, and the fd-exhaustion probe. Without it those columns say \"-\"." };
var node = new Option<string?>("--node") { Description = "The real Redis master behind the port, HOST:PORT: its connected_clients before/after each probe." };
var probes = new Option<string[]>("--probe") { Description = $"Probe to run; repeat for more (default, in this order: {string.Join(", ", ProbeCatalog.Default.Select(p => p.Name))}; only when named: {string.Join(", ", ProbeCatalog.All.Except(ProbeCatalog.Default).Select(p => p.Name))}).", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
var goodKey = new Option<string?>("--good-key") { Description = "The good client's key (default {TAG}:good, with the first TAG, TAG-1, ... that the port's master owns)." };
var tag = new Option<string>("--tag") { Description = "Hash tag of the good key and of every hostile key.", DefaultValueFactory = _ => defaults.Tag };
var connections = new Option<int>("--connections") { Description = "random-bytes: connections in all.", DefaultValueFactory = _ => defaults.Connections };
var batch = new Option<int>("--batch") { Description = "Connections opened concurrently, batch after batch.", DefaultValueFactory = _ => defaults.Batch };
var hold = new Option<string>("--hold") { Description = "half-frames, nul-inline, idle-clients: how long connections are held open.", DefaultValueFactory = _ => D(defaults.Hold) };
var settle = new Option<string>("--settle") { Description = "After a probe: wait at most this long for descriptors (and node clients) to return to their baseline.", DefaultValueFactory = _ => D(defaults.Settle) };
var valueSize = new Option<int?>("--value-size") { Description = $"never-reads, burst: bytes of the value the GETs read (default: never-reads {NeverReadsProbe.DefaultValueSize}, burst {BurstProbe.DefaultValueSize})." };
var pipelineCount = new Option<int>("--pipeline-count") { Description = "never-reads: GETs pipelined without reading.", DefaultValueFactory = _ => defaults.PipelineCount };
var pingCount = new Option<int>("--ping-count") { Description = "pings: pipelined PINGs.", DefaultValueFactory = _ => defaults.PingCount };
var idleCount = new Option<int>("--idle-count") { Description = "idle-clients: idle connections; burst: connections of the burst.", DefaultValueFactory = _ => defaults.IdleCount };
var fdLimit = new Option<int>("--fd-limit") { Description = "fd-exhaustion: RLIMIT_NOFILE (soft and hard) given to --pid during the probe.", DefaultValueFactory = _ => defaults.FdLimit };
var fdConnections = new Option<int>("--fd-connections") { Description = "fd-exhaustion: connections opened under the lowered limit.", DefaultValueFactory = _ => defaults.FdConnections };
var replyTimeout = new Option<string>("--reply-timeout") { Description = "How long a hostile connection waits for a reply, and the PING of the alive check.", DefaultValueFactory = _ => D(defaults.ReplyTimeout) };
var opTimeout = new Option<string>("--op-timeout") { Description = "The good client's per-command timeout (a timeout is an error, then it reconnects); burst: the wait for each big GET reply.", DefaultValueFactory = _ => D(defaults.OpTimeout) };
var goodPause = new Option<string>("--good-pause") { Description = "The good client's pause between SET/GET pairs (0 = back to back).", DefaultValueFactory = _ => D(defaults.GoodPause) };
var cutoffTimeout = new Option<string>("--cutoff-timeout") { Description = "never-reads: how long to wait for the target to cut the client off.", DefaultValueFactory = _ => D(defaults.CutoffTimeout) };
var rssLimit = new Option<int>("--rss-limit-mb") { Description = "never-reads: stop when the process under test, or the machine's memory in use, grew by this much (MemAvailable under 25% stops it too).", DefaultValueFactory = _ => defaults.RssLimitMb };
var settleBurst = new Option<string>("--settle-burst") { Description = "burst: how long RSS is read (every second, reported every 5 s) after the last burst client closed.", DefaultValueFactory = _ => D(defaults.SettleBurst) };
var probeTimeout = new Option<string>("--probe-timeout") { Description = "Upper bound of any one probe (burst: plus its quiet wait and --settle-burst).", DefaultValueFactory = _ => D(defaults.ProbeTimeout) };
var seed = new Option<int>("--random-seed") { Description = "random-bytes: seed (connection i uses seed + i).", DefaultValueFactory = _ => defaults.RandomSeed };
var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the table." };

var root = new RootCommand("Hostile clients: malformed, huge, slow and greedy inputs against a Redis-speaking port while a well-behaved client works beside them; reports the target's replies, the good client's errors and latency, and the process's memory and descriptors.")
{
    target, pid, node, probes, goodKey, tag, connections, batch, hold, settle, valueSize, pipelineCount, pingCount, idleCount,
    fdLimit, fdConnections, replyTimeout, opTimeout, goodPause, cutoffTimeout, rssLimit, settleBurst, probeTimeout, seed, json,
};

root.SetAction(async (parse, ct) =>
{
    static void Log(string message) => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {message}");
    HostileOptions options;
    try
    {
        options = new HostileOptions
        {
            Target = Endpoint(parse.GetValue(target)!, "--target"),
            Pid = parse.GetValue(pid) is { } p ? ExistingPid(p) : null,
            Node = parse.GetValue(node) is { } n ? Endpoint(n, "--node") : null,
            Probes = ProbeNames(parse.GetValue(probes)),
            GoodKey = parse.GetValue(goodKey),
            Tag = parse.GetValue(tag) is { Length: > 0 } t && !t.Contains('{', StringComparison.Ordinal) && !t.Contains('}', StringComparison.Ordinal)
                ? t : throw new FormatException("--tag must be non-empty, without braces"),
            Connections = Positive(parse.GetValue(connections), "--connections"),
            Batch = Positive(parse.GetValue(batch), "--batch"),
            Hold = Durations.Parse(parse.GetValue(hold)!, "--hold"),
            Settle = Durations.Parse(parse.GetValue(settle)!, "--settle"),
            ValueSize = parse.GetValue(valueSize) is { } size ? Positive(size, "--value-size") : null,
            PipelineCount = Positive(parse.GetValue(pipelineCount), "--pipeline-count"),
            PingCount = Positive(parse.GetValue(pingCount), "--ping-count"),
            IdleCount = Positive(parse.GetValue(idleCount), "--idle-count"),
            FdLimit = Positive(parse.GetValue(fdLimit), "--fd-limit"),
            FdConnections = Positive(parse.GetValue(fdConnections), "--fd-connections"),
            ReplyTimeout = NonZero(Durations.Parse(parse.GetValue(replyTimeout)!, "--reply-timeout"), "--reply-timeout"),
            OpTimeout = NonZero(Durations.Parse(parse.GetValue(opTimeout)!, "--op-timeout"), "--op-timeout"),
            GoodPause = Durations.Parse(parse.GetValue(goodPause)!, "--good-pause"),
            CutoffTimeout = Durations.Parse(parse.GetValue(cutoffTimeout)!, "--cutoff-timeout"),
            RssLimitMb = Positive(parse.GetValue(rssLimit), "--rss-limit-mb"),
            SettleBurst = Durations.Parse(parse.GetValue(settleBurst)!, "--settle-burst"),
            ProbeTimeout = NonZero(Durations.Parse(parse.GetValue(probeTimeout)!, "--probe-timeout"), "--probe-timeout"),
            RandomSeed = parse.GetValue(seed),
            Json = parse.GetValue(json),
        };
    }
    catch (FormatException e)
    {
        Console.Error.WriteLine($"hostile: {e.Message}");
        return 2;
    }

    try
    {
        var result = await new HostileRun(options, Log).RunAsync(ct);
        if (options.Json)
        {
            Console.Out.WriteLine(Report.Json(result));
        }
        else
        {
            Report.Table(result, Output());
        }

        return ct.IsCancellationRequested ? 130 : 0;
    }
    catch (SetupException e)
    {
        Console.Error.WriteLine($"hostile: {e.Message}");
        return 1;
    }
});

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine($"hostile: {error.Message}");
    }

    return 2;
}

return await parsed.InvokeAsync();

// Redirected to a file or a pipe: plain text, wide enough that the reply column stays readable.
static IAnsiConsole Output()
{
    if (!Console.IsOutputRedirected)
    {
        return AnsiConsole.Console;
    }

    var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
    console.Profile.Width = 200;
    return console;
}

static string Endpoint(string hostPort, string name)
{
    try
    {
        _ = Endpoints.Split(hostPort);
        return hostPort;
    }
    catch (FormatException e)
    {
        throw new FormatException($"{name} {e.Message}");
    }
}

static int ExistingPid(int pid) =>
    pid > 0 && Directory.Exists($"/proc/{pid}") ? pid : throw new FormatException($"--pid {pid}: no such process");

static IReadOnlyList<string> ProbeNames(string[]? names)
{
    if (names is not { Length: > 0 })
    {
        return [.. ProbeCatalog.Default.Select(p => p.Name)];
    }

    var unknown = names.Where(n => ProbeCatalog.Find(n) is null).ToList();
    return unknown.Count == 0
        ? [.. names.Select(n => ProbeCatalog.Find(n)!.Name)]
        : throw new FormatException($"--probe {string.Join(", ", unknown)}: unknown (known: {string.Join(", ", ProbeCatalog.All.Select(p => p.Name))})");
}

static int Positive(int value, string name) => value > 0 ? value : throw new FormatException($"{name} must be positive");

static TimeSpan NonZero(TimeSpan value, string name) => value > TimeSpan.Zero ? value : throw new FormatException($"{name} must be more than zero");
