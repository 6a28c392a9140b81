using System.CommandLine;
using System.Runtime.InteropServices;
using ClusterGate.Configuration;
using ClusterGate.Hosting;
using Microsoft.Extensions.Configuration;

namespace ClusterGate.Cli;

/// <summary><c>clustergate run</c>: validate every setting, then run the gateway until SIGINT/SIGTERM.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter error)
    {
        var seeds = CommonOptions.Seeds();
        seeds.Description += " Replaces the seeds of the config file and environment.";
        var bind = new Option<string?>("--bind") { Description = "IP address the shard ports and the admin port listen on (default 0.0.0.0)." };
        var announce = new Option<string?>("--announce-host") { Description = "Host written into rewritten MOVED/ASK and CLUSTER replies (default: the bind address, or 127.0.0.1 for 0.0.0.0 / ::)." };
        var basePort = new Option<string?>("--shard-base-port") { Description = "First shard port; group i listens on base + i (default 7100)." };
        var noRewrite = new Option<bool>("--no-rewrite-redirects") { Description = "Pass MOVED/ASK and CLUSTER NODES/SLOTS/SHARDS replies through with the real node addresses." };
        var adminPort = new Option<string?>("--admin-port") { Description = "Admin HTTP port (/health /topology /shards /events); 0 = no HTTP listener (default)." };
        var routerPort = new Option<string?>("--router-port") { Description = "Router port for clients with no cluster support (slot routing, redirects handled inside); 0 = off (default)." };
        var ioThreads = new Option<string?>("--io-threads") { Description = "I/O threads (io_uring rings, or socket event threads) that run all relay work; 0 = half the cores, at least 1 (default 0)." };
        var transport = new Option<string?>("--transport") { Description = "auto (io_uring when the kernel allows it, else sockets), io-uring (fail at start when not allowed) or sockets (default auto)." };
        var holdTimeout = new Option<string?>("--hold-timeout") { Description = "How long commands wait for a group without a master, e.g. 20s, 500ms (default 20s)." };
        var maxClients = new Option<string?>("--maxclients") { Description = "Most clients on the shard ports together; past it: -ERR max number of clients reached (default 10000, fewer if file descriptors run short)." };
        var routerMaxClients = new Option<string?>("--router-maxclients") { Description = "Most clients on the router port (default 10000, fewer if file descriptors run short)." };
        var replyTimeout = new Option<string?>("--router-reply-timeout") { Description = "A shared router connection with commands out and no reply for this long is closed; their outcome is unknown (default 10s)." };
        var outputLimit = new Option<string?>("--client-output-limit") { Description = "Replies held for a router client that does not read, as Redis's client-output-buffer-limit: HARD SOFT SECONDS (default \"256mb 64mb 10\")." };
        var pubsubLimit = new Option<string?>("--pubsub-output-limit") { Description = "Messages held for a router subscriber that does not read, as Redis's client-output-buffer-limit pubsub: HARD SOFT SECONDS (default \"32mb 8mb 60\")." };
        var otlp = new Option<string?>("--otlp-endpoint") { Description = "Push metrics over OTLP to this endpoint, e.g. http://127.0.0.1:4317 (default: none; Prometheus text is always at the admin port's /metrics)." };
        var seq = new Option<string?>("--seq-url") { Description = "Also send structured logs to this Seq server, e.g. http://127.0.0.1:5341 (default: console only)." };
        var logFile = new Option<string?>("--log-file") { Description = "Also write the log as JSON lines to this file (a new file each day, 7 kept; default: console only)." };
        var user = CommonOptions.User();
        var password = CommonOptions.Password();
        var config = new Option<string?>("--config") { Description = "JSON settings file (see clustergate.sample.json). Environment variables CLUSTERGATE__<Key> override it; options override both." };
        var logLevel = new Option<string?>("--log-level") { Description = "Verbose, Debug, Information (default), Warning, Error, Fatal." };
        var logLevelFor = new Option<string[]>("--log-level-for")
        {
            Description = "SOURCE=LEVEL: the level of one log source, by the name its lines show (TopologyMonitor=Debug) or a namespace (ClusterGate.Core.Topology=Debug). Repeat for more sources.",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("run", "Run the gateway: one shard port per master-replica group, following failovers, and optionally a router port.")
        {
            seeds, bind, announce, basePort, noRewrite, adminPort, routerPort, ioThreads, transport, holdTimeout, maxClients, routerMaxClients, replyTimeout, outputLimit, pubsubLimit, otlp, seq, logFile,
            user, password, config, logLevel, logLevelFor,
        };

        command.SetAction(async (parse, _) =>
        {
            var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            void Set(string key, string? value)
            {
                if (value is not null)
                {
                    overrides[key] = value;
                }
            }

            if (parse.GetValue(seeds) is { Length: > 0 } seedList)
            {
                Set(nameof(GatewayOptions.Seeds), string.Join(',', seedList));
            }

            Set(nameof(GatewayOptions.Bind), parse.GetValue(bind));
            Set(nameof(GatewayOptions.AnnounceHost), parse.GetValue(announce));
            Set(nameof(GatewayOptions.ShardBasePort), parse.GetValue(basePort));
            Set(nameof(GatewayOptions.AdminPort), parse.GetValue(adminPort));
            Set(nameof(GatewayOptions.RouterPort), parse.GetValue(routerPort));
            Set(nameof(GatewayOptions.IoThreads), parse.GetValue(ioThreads));
            Set(nameof(GatewayOptions.Transport), parse.GetValue(transport));
            Set(nameof(GatewayOptions.HoldTimeout), parse.GetValue(holdTimeout));
            Set(nameof(GatewayOptions.MaxClients), parse.GetValue(maxClients));
            Set(nameof(GatewayOptions.RouterMaxClients), parse.GetValue(routerMaxClients));
            Set(nameof(GatewayOptions.RouterReplyTimeout), parse.GetValue(replyTimeout));
            Set(nameof(GatewayOptions.ClientOutputLimit), parse.GetValue(outputLimit));
            Set(nameof(GatewayOptions.PubSubOutputLimit), parse.GetValue(pubsubLimit));
            Set(nameof(GatewayOptions.OtlpEndpoint), parse.GetValue(otlp));
            Set(nameof(GatewayOptions.SeqUrl), parse.GetValue(seq));
            Set(nameof(GatewayOptions.LogFile), parse.GetValue(logFile));
            Set(nameof(GatewayOptions.User), parse.GetValue(user));
            Set(nameof(GatewayOptions.Password), CommonOptions.PasswordWithWarning(parse.GetValue(password)));
            Set(nameof(GatewayOptions.LogLevel), parse.GetValue(logLevel));
            if (parse.GetValue(noRewrite))
            {
                Set(nameof(GatewayOptions.RewriteRedirects), "false");
            }

            var flagProblems = new List<string>();
            foreach (var item in parse.GetValue(logLevelFor) ?? [])
            {
                var equals = item.IndexOf('=', StringComparison.Ordinal);
                var source = equals > 0 ? item[..equals].Trim() : "";
                if (source.Length == 0 || source.Contains(':', StringComparison.Ordinal))
                {
                    flagProblems.Add($"--log-level-for '{item}': expected SOURCE=LEVEL, e.g. TopologyMonitor=Debug");
                    continue;
                }

                Set(ConfigurationPath.Combine(nameof(GatewayOptions.LogLevels), source), item[(equals + 1)..].Trim());
            }

            var (options, problems) = Load(parse.GetValue(config), overrides);
            problems.InsertRange(0, flagProblems);
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await error.WriteLineAsync($"clustergate: {problem}");
                }

                return 2;
            }

            return await RunGatewayAsync(options, error);
        });
        return command;
    }

    /// <summary>
    /// Sets the socket event thread count, before the first socket exists (the runtime reads it once).
    /// Every continuation of the relay runs inline on these threads (Program.cs); on a machine shared
    /// with Redis and its clients fewer threads batch more work per wake-up (see README, Benchmarks).
    /// </summary>
    internal static void ApplyIoThreads(GatewayOptions options)
    {
        const string variable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";
        if (options.IoThreads > 0 || Environment.GetEnvironmentVariable(variable) is null)
        {
            Environment.SetEnvironmentVariable(variable, options.EffectiveIoThreads(Environment.ProcessorCount).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Layers, binds and validates; the problems of all three steps together.</summary>
    internal static (GatewayOptions Options, List<string> Problems) Load(string? configFile, IReadOnlyDictionary<string, string?> overrides)
    {
        var problems = new List<string>();
        var configuration = GatewayConfiguration.Build(configFile, overrides, problems);
        var options = GatewayConfiguration.Bind(configuration, problems);
        options.Password ??= Environment.GetEnvironmentVariable("REDISCLI_AUTH");
        problems.AddRange(GatewayOptionsValidator.Collect(options));
        return (options, problems);
    }

    private static async Task<int> RunGatewayAsync(GatewayOptions options, TextWriter error)
    {
        ApplyIoThreads(options);
        using var stop = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            // First signal: graceful stop. A second one falls through to the default: terminate now.
            if (Interlocked.Increment(ref signals) == 1)
            {
                context.Cancel = true;
                stop.Cancel();
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var loggerFactory = HostLogging.CreateLoggerFactory(options.LogLevel, options.LogLevels, options.SeqUrl, options.LogFile);
        return await new GatewayHost(options, loggerFactory, error).RunAsync(stop.Token);
    }
}
