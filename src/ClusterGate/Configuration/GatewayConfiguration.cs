using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace ClusterGate.Configuration;

/// <summary>
/// Layers the sources of <see cref="GatewayOptions"/> (JSON file, then <c>CLUSTERGATE__*</c>
/// environment variables, then command-line options) and binds them by hand, so that every bad
/// value is reported with its key instead of the first one throwing.
/// </summary>
public static class GatewayConfiguration
{
    public const string EnvironmentPrefix = "CLUSTERGATE__";

    /// <summary>Configuration key → the command-line option that sets it, for messages.</summary>
    internal static readonly Dictionary<string, string?> TopLevelKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        [nameof(GatewayOptions.Seeds)] = "--seed",
        [nameof(GatewayOptions.Bind)] = "--bind",
        [nameof(GatewayOptions.AnnounceHost)] = "--announce-host",
        [nameof(GatewayOptions.ShardBasePort)] = "--shard-base-port",
        [nameof(GatewayOptions.RewriteRedirects)] = "--no-rewrite-redirects",
        [nameof(GatewayOptions.AdminPort)] = "--admin-port",
        [nameof(GatewayOptions.RouterPort)] = "--router-port",
        [nameof(GatewayOptions.RouterConnectionsPerMaster)] = null,
        [nameof(GatewayOptions.RouterOwnConnectionsPerMaster)] = null,
        [nameof(GatewayOptions.IoThreads)] = "--io-threads",
        [nameof(GatewayOptions.Transport)] = "--transport",
        [nameof(GatewayOptions.HoldTimeout)] = "--hold-timeout",
        [nameof(GatewayOptions.MaxClients)] = "--maxclients",
        [nameof(GatewayOptions.RouterMaxClients)] = "--router-maxclients",
        [nameof(GatewayOptions.RouterReplyTimeout)] = "--router-reply-timeout",
        [nameof(GatewayOptions.ClientOutputLimit)] = "--client-output-limit",
        [nameof(GatewayOptions.PubSubOutputLimit)] = "--pubsub-output-limit",
        [nameof(GatewayOptions.OtlpEndpoint)] = "--otlp-endpoint",
        [nameof(GatewayOptions.SeqUrl)] = "--seq-url",
        [nameof(GatewayOptions.LogFile)] = "--log-file",
        [nameof(GatewayOptions.PortPins)] = null,
        [nameof(GatewayOptions.AddressMap)] = null,
        [nameof(GatewayOptions.User)] = "--user",
        [nameof(GatewayOptions.Password)] = "--password",
        [nameof(GatewayOptions.Topology)] = null,
        [nameof(GatewayOptions.LogLevel)] = "--log-level",
        [nameof(GatewayOptions.LogLevels)] = "--log-level-for",
    };

    private static readonly HashSet<string> TopologyKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        nameof(GatewayTopologyOptions.RefreshInterval),
        nameof(GatewayTopologyOptions.FastPollInterval),
        nameof(GatewayTopologyOptions.CommandTimeout),
    };

    /// <summary>
    /// Builds the layered configuration. <paramref name="commandLine"/> holds configuration keys
    /// (<c>ShardBasePort</c>, <c>Seeds</c> as one comma-separated value) set by options given on
    /// the command line. A missing or malformed file is a problem, not an exception.
    /// </summary>
    public static IConfigurationRoot Build(string? configFile, IEnumerable<KeyValuePair<string, string?>> commandLine, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var withFile = configFile is not null && File.Exists(configFile);
        if (configFile is not null && !withFile)
        {
            problems.Add($"--config '{configFile}': file not found");
        }

        try
        {
            return Layers(withFile ? Path.GetFullPath(configFile!) : null, commandLine).Build();
        }
        catch (InvalidDataException ex)
        {
            var cause = ex.GetBaseException();
            problems.Add($"--config '{configFile}': not valid JSON: {cause.Message}");
            return Layers(null, commandLine).Build();
        }
    }

    /// <summary>Reads every setting; bad values become problems and leave the default in place.</summary>
    public static GatewayOptions Bind(IConfiguration configuration, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(problems);
        var options = new GatewayOptions();
        foreach (var section in configuration.GetChildren())
        {
            if (!TopLevelKeys.ContainsKey(section.Key))
            {
                problems.Add($"{section.Path}: unknown setting (known: {string.Join(", ", TopLevelKeys.Keys)})");
            }
        }

        var seeds = configuration.GetSection(nameof(GatewayOptions.Seeds));
        if (seeds.Value is { } list)
        {
            // One value ("a:1,b:2", from the command line or an environment variable) replaces any array below it.
            options.Seeds.AddRange(list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        else
        {
            options.Seeds.AddRange(OrderedChildren(seeds).Select(s => s.Value).OfType<string>());
        }

        options.Bind = configuration[nameof(GatewayOptions.Bind)] ?? options.Bind;
        options.AnnounceHost = configuration[nameof(GatewayOptions.AnnounceHost)] ?? options.AnnounceHost;
        options.User = configuration[nameof(GatewayOptions.User)] ?? options.User;
        options.Password = configuration[nameof(GatewayOptions.Password)] ?? options.Password;
        options.LogLevel = configuration[nameof(GatewayOptions.LogLevel)] ?? options.LogLevel;
        options.ShardBasePort = ReadInt(configuration, nameof(GatewayOptions.ShardBasePort), options.ShardBasePort, problems);
        options.AdminPort = ReadInt(configuration, nameof(GatewayOptions.AdminPort), options.AdminPort, problems);
        options.RouterPort = ReadInt(configuration, nameof(GatewayOptions.RouterPort), options.RouterPort, problems);
        options.RouterConnectionsPerMaster = ReadInt(configuration, nameof(GatewayOptions.RouterConnectionsPerMaster), options.RouterConnectionsPerMaster, problems);
        options.RouterOwnConnectionsPerMaster = ReadInt(configuration, nameof(GatewayOptions.RouterOwnConnectionsPerMaster), options.RouterOwnConnectionsPerMaster, problems);
        options.IoThreads = ReadInt(configuration, nameof(GatewayOptions.IoThreads), options.IoThreads, problems);
        options.Transport = configuration[nameof(GatewayOptions.Transport)] ?? options.Transport;
        options.RewriteRedirects = ReadBool(configuration, nameof(GatewayOptions.RewriteRedirects), options.RewriteRedirects, problems);
        options.HoldTimeout = ReadDuration(configuration, nameof(GatewayOptions.HoldTimeout), options.HoldTimeout, problems);
        options.MaxClients = ReadInt(configuration, nameof(GatewayOptions.MaxClients), options.MaxClients, problems);
        options.RouterMaxClients = ReadInt(configuration, nameof(GatewayOptions.RouterMaxClients), options.RouterMaxClients, problems);
        options.RouterReplyTimeout = ReadDuration(configuration, nameof(GatewayOptions.RouterReplyTimeout), options.RouterReplyTimeout, problems);
        options.ClientOutputLimit = configuration[nameof(GatewayOptions.ClientOutputLimit)] ?? options.ClientOutputLimit;
        options.PubSubOutputLimit = configuration[nameof(GatewayOptions.PubSubOutputLimit)] ?? options.PubSubOutputLimit;
        options.OtlpEndpoint = configuration[nameof(GatewayOptions.OtlpEndpoint)] ?? options.OtlpEndpoint;
        options.SeqUrl = configuration[nameof(GatewayOptions.SeqUrl)] ?? options.SeqUrl;
        options.LogFile = configuration[nameof(GatewayOptions.LogFile)] ?? options.LogFile;

        foreach (var pin in OrderedChildren(configuration.GetSection(nameof(GatewayOptions.PortPins))))
        {
            foreach (var key in pin.GetChildren().Where(k => k.Key is not (nameof(PortPinOptions.Port) or nameof(PortPinOptions.Slot))))
            {
                problems.Add($"{key.Path}: unknown setting (known: Port, Slot)");
            }

            var hasPort = pin[nameof(PortPinOptions.Port)] is not null;
            var hasSlot = pin[nameof(PortPinOptions.Slot)] is not null;
            if (!hasPort || !hasSlot)
            {
                problems.Add($"{pin.Path}: a pin needs both Port and Slot, e.g. {{\"Port\": 7100, \"Slot\": 0}}");
                continue;
            }

            options.PortPins.Add(new PortPinOptions
            {
                Port = ReadInt(pin, nameof(PortPinOptions.Port), -1, problems),
                Slot = ReadInt(pin, nameof(PortPinOptions.Slot), -1, problems),
            });
        }

        // Keys are "host:port", and ':' is also the configuration path separator: read the leaves
        // with paths relative to AddressMap, which puts the colons back.
        foreach (var (announced, reachable) in configuration.GetSection(nameof(GatewayOptions.AddressMap)).AsEnumerable(makePathsRelative: true))
        {
            if (reachable is not null)
            {
                options.AddressMap[announced] = reachable;
            }
        }

        foreach (var source in configuration.GetSection(nameof(GatewayOptions.LogLevels)).GetChildren())
        {
            if (source.Value is { } level)
            {
                options.LogLevels[source.Key] = level;
            }
            else
            {
                problems.Add($"{source.Path}: not a level name; LogLevels maps a source to a level, e.g. {{\"TopologyMonitor\": \"Debug\"}}");
            }
        }

        var topology = configuration.GetSection(nameof(GatewayOptions.Topology));
        foreach (var key in topology.GetChildren().Where(k => !TopologyKeys.Contains(k.Key)))
        {
            problems.Add($"{key.Path}: unknown setting (known: {string.Join(", ", TopologyKeys)})");
        }

        options.Topology.RefreshInterval = ReadDuration(topology, nameof(GatewayTopologyOptions.RefreshInterval), options.Topology.RefreshInterval, problems);
        options.Topology.FastPollInterval = ReadDuration(topology, nameof(GatewayTopologyOptions.FastPollInterval), options.Topology.FastPollInterval, problems);
        options.Topology.CommandTimeout = ReadDuration(topology, nameof(GatewayTopologyOptions.CommandTimeout), options.Topology.CommandTimeout, problems);
        return options;
    }

    /// <summary>"ShardBasePort (--shard-base-port)": the key as written in JSON, and the option that sets it.</summary>
    public static string Describe(string key) =>
        TopLevelKeys.TryGetValue(key, out var option) && option is not null ? $"{key} ({option})" : key;

    private static ConfigurationBuilder Layers(string? configFile, IEnumerable<KeyValuePair<string, string?>> commandLine)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            builder.AddJsonFile(configFile, optional: false, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables(EnvironmentPrefix);
        builder.AddInMemoryCollection(commandLine);
        return builder;
    }

    private static IEnumerable<IConfigurationSection> OrderedChildren(IConfigurationSection section) =>
        section.GetChildren().OrderBy(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : int.MaxValue);

    private static int ReadInt(IConfiguration configuration, string key, int fallback, List<string> problems)
    {
        var text = configuration[key];
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        problems.Add($"{Describe(PathOf(configuration, key))}: '{text}' is not a whole number");
        return fallback;
    }

    private static bool ReadBool(IConfiguration configuration, string key, bool fallback, List<string> problems)
    {
        var text = configuration[key];
        if (text is null)
        {
            return fallback;
        }

        if (bool.TryParse(text.Trim(), out var value))
        {
            return value;
        }

        problems.Add($"{Describe(PathOf(configuration, key))}: '{text}' is not true or false");
        return fallback;
    }

    private static TimeSpan ReadDuration(IConfiguration configuration, string key, TimeSpan fallback, List<string> problems)
    {
        var text = configuration[key];
        if (text is null)
        {
            return fallback;
        }

        if (DurationParser.TryParse(text, out var value))
        {
            return value;
        }

        problems.Add($"{Describe(PathOf(configuration, key))}: '{text}' is not {DurationParser.Expected}");
        return fallback;
    }

    private static string PathOf(IConfiguration configuration, string key) =>
        configuration is IConfigurationSection section ? ConfigurationPath.Combine(section.Path, key) : key;
}
