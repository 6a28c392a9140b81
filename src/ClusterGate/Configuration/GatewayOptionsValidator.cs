using System.Net;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Topology;
using Microsoft.Extensions.Options;

namespace ClusterGate.Configuration;

/// <summary>Checks <see cref="GatewayOptions"/> as a whole and reports every problem, one line each.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    private static readonly string[] LogLevels = ["Verbose", "Trace", "Debug", "Information", "Warning", "Error", "Fatal", "Critical"];

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var problems = Collect(options);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    public static List<string> Collect(GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        void Problem(string key, string text) => problems.Add($"{GatewayConfiguration.Describe(key)}: {text}");

        if (options.Seeds.Count == 0)
        {
            Problem(nameof(options.Seeds), "at least one seed is required, e.g. --seed 127.0.0.1:7000");
        }

        foreach (var seed in options.Seeds.Where(s => !EndpointParser.TryParse(s, out _)))
        {
            Problem(nameof(options.Seeds), $"'{seed}' is not HOST:PORT with a port from 1 to 65535");
        }

        if (!IPAddress.TryParse(options.Bind, out _))
        {
            Problem(nameof(options.Bind), $"'{options.Bind}' is not an IP address (use 0.0.0.0, ::, 127.0.0.1 or an interface address)");
        }

        if (options.AnnounceHost is { } announce && (string.IsNullOrWhiteSpace(announce) || announce.Any(char.IsWhiteSpace)))
        {
            Problem(nameof(options.AnnounceHost), $"'{announce}' is not a host name or address");
        }

        if (!IsPort(options.ShardBasePort))
        {
            Problem(nameof(options.ShardBasePort), $"{options.ShardBasePort} is not a port (1-65535)");
        }

        if (options.AdminPort is not 0 && !IsPort(options.AdminPort))
        {
            Problem(nameof(options.AdminPort), $"{options.AdminPort} is not a port (1-65535, or 0 for no admin HTTP)");
        }

        if (options.RouterPort is not 0 && !IsPort(options.RouterPort))
        {
            Problem(nameof(options.RouterPort), $"{options.RouterPort} is not a port (1-65535, or 0 for no router port)");
        }
        else if (options.RouterPort is not 0 && options.RouterPort == options.AdminPort)
        {
            Problem(nameof(options.RouterPort), $"{options.RouterPort} is also the admin port (--admin-port)");
        }

        if (options.RouterOwnConnectionsPerMaster is < 1 or > 100_000)
        {
            Problem(nameof(options.RouterOwnConnectionsPerMaster), $"{options.RouterOwnConnectionsPerMaster} is not between 1 and 100000");
        }

        if (options.RouterConnectionsPerMaster is < 1 or > 64)
        {
            Problem(nameof(options.RouterConnectionsPerMaster), $"{options.RouterConnectionsPerMaster} is not between 1 and 64");
        }

        if (!ClusterGate.Core.Frontends.GatewayTransport.TryParse(options.Transport, out _))
        {
            Problem(nameof(options.Transport), $"'{options.Transport}' is not auto, io-uring or sockets");
        }

        if (options.IoThreads is < 0 or > 256)
        {
            Problem(nameof(options.IoThreads), $"{options.IoThreads} is not between 0 (automatic) and 256");
        }

        Positive(nameof(options.HoldTimeout), options.HoldTimeout);
        Positive(nameof(options.RouterReplyTimeout), options.RouterReplyTimeout);
        if (options.MaxClients < 1)
        {
            Problem(nameof(options.MaxClients), $"{options.MaxClients} must be at least 1");
        }

        if (options.RouterMaxClients < 1)
        {
            Problem(nameof(options.RouterMaxClients), $"{options.RouterMaxClients} must be at least 1");
        }

        if (!ClusterGate.Core.Frontends.OutputBufferLimit.TryParse(options.ClientOutputLimit, out _))
        {
            Problem(nameof(options.ClientOutputLimit), $"'{options.ClientOutputLimit}' is not HARD SOFT SECONDS, e.g. \"256mb 64mb 10\" (0 turns a bound off)");
        }

        if (options.SeqUrl is { Length: > 0 } seq && !(Uri.TryCreate(seq, UriKind.Absolute, out var seqUri) && seqUri.Scheme is "http" or "https"))
        {
            Problem(nameof(options.SeqUrl), $"'{seq}' is not an http(s) URL, e.g. http://127.0.0.1:5341");
        }

        if (options.OtlpEndpoint is { Length: > 0 } otlp && !(Uri.TryCreate(otlp, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            Problem(nameof(options.OtlpEndpoint), $"'{otlp}' is not an http(s) URL, e.g. http://127.0.0.1:4317");
        }

        if (!ClusterGate.Core.Frontends.OutputBufferLimit.TryParse(options.PubSubOutputLimit, out _))
        {
            Problem(nameof(options.PubSubOutputLimit), $"'{options.PubSubOutputLimit}' is not HARD SOFT SECONDS, e.g. \"32mb 8mb 60\" (0 turns a bound off)");
        }

        Positive("Topology:RefreshInterval", options.Topology.RefreshInterval);
        Positive("Topology:FastPollInterval", options.Topology.FastPollInterval);
        Positive("Topology:CommandTimeout", options.Topology.CommandTimeout);

        var pinPorts = new HashSet<int>();
        var pinSlots = new HashSet<int>();
        for (var i = 0; i < options.PortPins.Count; i++)
        {
            var pin = options.PortPins[i];
            var key = $"PortPins:{i}";
            if (!IsPort(pin.Port))
            {
                Problem(key, $"Port {pin.Port} is not a port (1-65535)");
            }
            else if (!pinPorts.Add(pin.Port))
            {
                Problem(key, $"Port {pin.Port} is pinned more than once");
            }

            if (pin.Slot is < 0 or >= HashSlot.SlotCount)
            {
                Problem(key, $"Slot {pin.Slot} is not a slot (0-{HashSlot.SlotCount - 1})");
            }
            else if (!pinSlots.Add(pin.Slot))
            {
                Problem(key, $"Slot {pin.Slot} is pinned more than once");
            }

            if (options.RouterPort != 0 && pin.Port == options.RouterPort)
            {
                Problem(key, $"Port {pin.Port} is also the router port (--router-port)");
            }

            if (options.AdminPort != 0 && pin.Port == options.AdminPort)
            {
                Problem(key, $"Port {pin.Port} is also the admin port (--admin-port)");
            }
        }

        foreach (var (announced, reachable) in options.AddressMap)
        {
            if (!EndpointParser.TryParse(announced, out _))
            {
                Problem(nameof(options.AddressMap), $"key '{announced}' is not HOST:PORT");
            }

            if (!EndpointParser.TryParse(reachable, out _))
            {
                Problem(nameof(options.AddressMap), $"'{announced}' maps to '{reachable}', which is not HOST:PORT");
            }
        }

        if (options.User is not null && options.Password is null)
        {
            Problem(nameof(options.User), $"user '{options.User}' needs a password (--password, REDISCLI_AUTH or Password)");
        }

        if (!LogLevels.Contains(options.LogLevel, StringComparer.OrdinalIgnoreCase))
        {
            Problem(nameof(options.LogLevel), $"'{options.LogLevel}' is not one of {string.Join(", ", LogLevels)}");
        }

        foreach (var (source, level) in options.LogLevels)
        {
            if (!LogLevels.Contains(level, StringComparer.OrdinalIgnoreCase))
            {
                Problem(nameof(options.LogLevels), $"'{level}' for source '{source}' is not one of {string.Join(", ", LogLevels)}");
            }
        }

        return problems;

        void Positive(string key, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                Problem(key, $"{value.TotalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}ms must be greater than zero");
            }
        }
    }

    private static bool IsPort(int port) => port is >= 1 and <= 65535;
}
