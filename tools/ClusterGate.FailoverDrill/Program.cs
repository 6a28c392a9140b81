using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using ClusterGate.FailoverDrill;
using Spectre.Console;

var target = new Option<string>("--target") { Description = "Endpoint under test, HOST:PORT (gateway shard port, HAProxy frontend, other proxy, or a master itself).", Required = true };
var labPort = new Option<string>("--lab-port") { Description = "Any node of the real cluster, PORT or HOST:PORT (default host 127.0.0.1); used for control only.", Required = true };
var clients = new Option<int>("--clients") { Description = "Client connections writing through the target.", DefaultValueFactory = _ => 20 };
var rate = new Option<int>("--rate") { Description = "Total SET commands per second over all clients.", DefaultValueFactory = _ => 2000 };
var crashes = new Option<int>("--crashes") { Description = "Crashes, one after another: each takes the group's current master (the promoted one) once the previous crashed node is a replica again.", DefaultValueFactory = _ => 1 };
var duration = new Option<string>("--duration") { Description = "Least length of each crash cycle (e.g. 15s, 1500ms, 1m); a cycle lasts longer while its crashed node rejoins.", DefaultValueFactory = _ => "15s" };
var crashAfter = new Option<string>("--crash-after") { Description = "When to crash the master, from the start of its crash cycle (the first starts with the writers).", DefaultValueFactory = _ => "3s" };
var opTimeout = new Option<string>("--op-timeout") { Description = "Per-command reply timeout; a timed-out connection is counted and re-opened.", DefaultValueFactory = _ => "10s" };
var settle = new Option<string>("--settle-timeout") { Description = "How long to wait for the cluster to be OK before reading the keys back.", DefaultValueFactory = _ => "60s" };
var master = new Option<string?>("--master") { Description = "Crash this master (HOST:PORT as in CLUSTER NODES) instead of the one found behind the target (for router-style targets)." };
var restart = new Option<bool>("--restart") { Description = "Restart each crashed node once writes resumed and wait until it is a replica again (lab.sh restart when it belongs to a cluster-lab lab, else redis-server CONFIG --daemonize yes); needed for --crashes above 1.", DefaultValueFactory = _ => true };
var labScript = new Option<string?>("--lab-script") { Description = "Path of cluster-lab/lab.sh (default: found from the node's config_file path)." };
var json = new Option<bool>("--json") { Description = "Print one JSON object instead of tables." };

var root = new RootCommand("Failover drill: steady SET load through an endpoint, DEBUG SEGFAULT on the master behind it (--crashes times, following the group), measure promotion, write resumption, errors and acknowledged-but-lost writes.")
{
    target, labPort, clients, rate, crashes, duration, crashAfter, opTimeout, settle, master, restart, labScript, json,
};

root.SetAction((parse, _) =>
{
    var quiet = parse.GetValue(json);
    void Log(string message) => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {message}");
    DrillOptions options;
    try
    {
        var lab = parse.GetValue(labPort)!;
        options = new DrillOptions
        {
            Target = Normalize(parse.GetValue(target)!),
            LabNode = Normalize(lab.Contains(':', StringComparison.Ordinal) ? lab : "127.0.0.1:" + lab),
            Clients = Positive(parse.GetValue(clients), "--clients"),
            Rate = Positive(parse.GetValue(rate), "--rate"),
            Crashes = Positive(parse.GetValue(crashes), "--crashes"),
            Duration = ParseDuration(parse.GetValue(duration)!, "--duration"),
            CrashAfter = ParseDuration(parse.GetValue(crashAfter)!, "--crash-after"),
            OpTimeout = ParseDuration(parse.GetValue(opTimeout)!, "--op-timeout"),
            SettleTimeout = ParseDuration(parse.GetValue(settle)!, "--settle-timeout"),
            Master = parse.GetValue(master),
            Restart = parse.GetValue(restart),
            LabScript = parse.GetValue(labScript),
            Json = quiet,
        };
        if (options.CrashAfter >= options.Duration)
        {
            throw new FormatException("--crash-after must be shorter than --duration");
        }

        if (options.Crashes > 1 && !options.Restart)
        {
            throw new FormatException("--crashes above 1 needs --restart true: the next crash needs the crashed node back as a replica");
        }
    }
    catch (FormatException e)
    {
        Console.Error.WriteLine($"failover-drill: {e.Message}");
        return Task.FromResult(2);
    }

    try
    {
        // Ctrl+C (SIGINT) or SIGTERM ends the series early; the drill still settles, verifies and reports, which
        // on a long run takes far more than the grace System.CommandLine gives its own cancellation.
        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext signal)
        {
            signal.Cancel = true;
            Log($"{signal.Signal}: ending the series, then verifying and reporting");
            stop.Cancel();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var result = new Drill(options, Log).Run(stop.Token);
        if (options.Json)
        {
            Console.Out.WriteLine(Report.Json(result));
        }
        else
        {
            var console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // A file or pipe has no width: the per-crash table needs more than Spectre's default 80 columns.
                console.Profile.Width = 180;
            }

            Report.Table(result, console);
        }

        return Task.FromResult(0);
    }
    catch (SetupException e)
    {
        Console.Error.WriteLine($"failover-drill: setup failed: {e.Message}");
        return Task.FromResult(1);
    }
});

// Signals are handled in the action (above), not by System.CommandLine.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static string Normalize(string hostPort)
{
    _ = Endpoints.Split(hostPort);
    return hostPort;
}

static int Positive(int value, string name) => value > 0 ? value : throw new FormatException($"{name} must be positive");

static TimeSpan ParseDuration(string text, string name)
{
    var t = text.Trim();
    (string number, double scale) = t switch
    {
        _ when t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (t[..^2], 1.0),
        _ when t.EndsWith('s') || t.EndsWith('S') => (t[..^1], 1000.0),
        _ when t.EndsWith('m') || t.EndsWith('M') => (t[..^1], 60_000.0),
        _ => (t, 1000.0),
    };
    return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0
        ? TimeSpan.FromMilliseconds(value * scale)
        : throw new FormatException($"{name} '{text}': expected a duration such as 15s, 1500ms or 1m");
}
