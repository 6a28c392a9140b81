using System.CommandLine;
using System.Globalization;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;
using ClusterGate.FailoverLag;
using Spectre.Console;

var labPort = new Option<string>("--lab-port") { Description = "Any node of the lab cluster, PORT or HOST:PORT (default host 127.0.0.1).", Required = true };
var rounds = new Option<int>("--rounds") { Description = "Crashes to measure; each crashes the master of the next group.", DefaultValueFactory = _ => 3 };
var poll = new Option<int>("--poll-ms") { Description = "Period of the CLUSTER NODES poll on a surviving master that stamps the promotion.", DefaultValueFactory = _ => 5 };
var fastPoll = new Option<int>("--fast-poll-ms") { Description = "The monitor's FastPollInterval (default: the product default).", DefaultValueFactory = _ => (int)new TopologyMonitorOptions().FastPollInterval.TotalMilliseconds };
var timeout = new Option<int>("--step-timeout-s") { Description = "Bound for each wait (promotion, event, restart, settling).", DefaultValueFactory = _ => 30 };
var labScript = new Option<string?>("--lab-script") { Description = "cluster-lab/lab.sh to restart crashed nodes with (default: found above the node's directory; else redis-server CONFIG)." };
var verbose = new Option<bool>("--verbose") { Description = "Print every topology event and step." };

var root = new RootCommand("Failover lag: how long after a promotion is visible in CLUSTER NODES the topology monitor raises MasterChanged.")
{
    labPort, rounds, poll, fastPoll, timeout, labScript, verbose,
};

root.SetAction(async (parse, ct) =>
{
    var loud = parse.GetValue(verbose);
    void Log(string message)
    {
        if (loud)
        {
            Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {message}");
        }
    }

    LagOptions options;
    try
    {
        options = new LagOptions
        {
            LabNode = ParseNode(parse.GetValue(labPort)!),
            Rounds = Positive(parse.GetValue(rounds), "--rounds"),
            PollInterval = TimeSpan.FromMilliseconds(Positive(parse.GetValue(poll), "--poll-ms")),
            FastPollInterval = TimeSpan.FromMilliseconds(Positive(parse.GetValue(fastPoll), "--fast-poll-ms")),
            StepTimeout = TimeSpan.FromSeconds(Positive(parse.GetValue(timeout), "--step-timeout-s")),
            LabScript = parse.GetValue(labScript),
        };
    }
    catch (FormatException e)
    {
        Console.Error.WriteLine($"failover-lag: {e.Message}");
        return 2;
    }

    try
    {
        var results = await new LagRun(options, Log).RunAsync(
            r => AnsiConsole.MarkupLineInterpolated(
                $"round {r.Round}: group {r.GroupId} {r.Crashed} -> {r.Promoted}: promotion visible {Ms(r.CrashToVisible)} ms after the crash, MasterChanged [bold]{Ms(r.Lag)} ms[/] later ({r.Polls} polls)"),
            ct);
        Report(results, options);
        return 0;
    }
    catch (Exception e) when (e is LagStepException or TopologyDiscoveryException or InvalidOperationException or IOException or System.Net.Sockets.SocketException)
    {
        Console.Error.WriteLine($"failover-lag: {e.Message}");
        return 1;
    }
});

return await root.Parse(args).InvokeAsync();

static void Report(IReadOnlyList<LagRound> results, LagOptions options)
{
    var table = new Table().AddColumns("round", "group", "crashed", "promoted", "visible ms", "lag ms");
    foreach (var r in results)
    {
        table.AddRow(r.Round.ToString(CultureInfo.InvariantCulture), r.GroupId.ToString(CultureInfo.InvariantCulture), r.Crashed.ToString(), r.Promoted.ToString(), Ms(r.CrashToVisible), Ms(r.Lag));
    }

    AnsiConsole.Write(table);
    var lags = results.Select(r => r.Lag.TotalMilliseconds).Order().ToArray();
    var median = lags.Length % 2 == 1 ? lags[lags.Length / 2] : (lags[(lags.Length / 2) - 1] + lags[lags.Length / 2]) / 2;
    AnsiConsole.MarkupLineInterpolated(
        $"lag (monitor MasterChanged − promotion visible, poll {options.PollInterval.TotalMilliseconds:0} ms, monitor fast poll {options.FastPollInterval.TotalMilliseconds:0} ms): min {lags[0]:0.0} ms, median {median:0.0} ms, max {lags[^1]:0.0} ms over {lags.Length} rounds");
}

static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);

static int Positive(int value, string name) => value > 0 ? value : throw new FormatException($"{name} must be positive");

static NodeEndpoint ParseNode(string text)
{
    var full = text.Contains(':', StringComparison.Ordinal) ? text : "127.0.0.1:" + text;
    return EndpointParser.TryParse(full, out var endpoint) ? endpoint : throw new FormatException($"--lab-port '{text}': expected PORT or HOST:PORT");
}
