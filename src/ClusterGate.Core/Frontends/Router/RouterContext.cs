using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Routing.Commands;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>What every router session shares.</summary>
internal sealed class RouterContext(CommandDispatcher dispatcher, RouterOptions options, ILogger logger, TimeProvider timeProvider)
{
    public CommandDispatcher Dispatcher { get; } = dispatcher;

    public RouterOptions Options { get; } = options;

    public ILogger Logger { get; } = logger;

    public TimeProvider TimeProvider { get; } = timeProvider;

    public LingeringWriters Lingering { get; } = new(timeProvider);

    public RespLimits Limits { get; } = RespLimits.Default;

    /// <summary>The generated table merged with the cluster's own <c>COMMAND</c> at start.</summary>
    public CommandCatalog Commands { get; set; } = CommandCatalog.Default;

    /// <summary>The cluster's Redis version (INFO server), for HELLO.</summary>
    public string? ServerVersion { get; set; }

    /// <summary>Lists the router's clients for CLIENT LIST (set by the frontend).</summary>
    public Func<string>? ClientList { get; set; }

    public string? DescribeClients() => ClientList?.Invoke();
}
