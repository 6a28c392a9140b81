using ClusterGate.Core.Backends;
using ClusterGate.Core.Transport;
using ClusterGate.Core.Transport.Uring;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends;

/// <summary>
/// The transport both frontends listen on and open backend connections with: the io_uring engine, or Kestrel's
/// socket transport where io_uring is not allowed. Chosen once, logged once with the reason.
/// </summary>
public sealed partial class GatewayTransport : IDisposable
{
    private readonly IDisposable? _owned;

    private GatewayTransport(string name, string reason, IConnectionListenerFactory listeners, IBackendConnector connector, UringEngine? engine, IDisposable? owned)
    {
        Name = name;
        Reason = reason;
        Listeners = listeners;
        Connector = connector;
        Engine = engine;
        _owned = owned;
    }

    /// <summary><c>io_uring</c> or <c>sockets</c>.</summary>
    public string Name { get; }

    /// <summary>Why this transport: chosen, or what kept io_uring out.</summary>
    public string Reason { get; }

    public IConnectionListenerFactory Listeners { get; }

    public IBackendConnector Connector { get; }

    /// <summary>The rings, when the transport is io_uring.</summary>
    public UringEngine? Engine { get; }

    public static bool TryParse(string? text, out TransportKind kind)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "auto":
                kind = TransportKind.Auto;
                return true;
            case "io-uring" or "iouring" or "io_uring":
                kind = TransportKind.IoUring;
                return true;
            case "sockets" or "socket":
                kind = TransportKind.Sockets;
                return true;
            default:
                kind = TransportKind.Auto;
                return false;
        }
    }

    /// <summary>Starts the chosen transport; throws <see cref="UringUnavailableException"/> when <c>io-uring</c> was required and cannot run.</summary>
    public static GatewayTransport Create(TransportKind kind, int ioThreads, ILoggerFactory loggerFactory, TimeProvider? time = null, DescriptorBudget? descriptors = null)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var logger = loggerFactory.CreateLogger("ClusterGate.Transport");
        GatewayTransport transport;
        if (kind == TransportKind.Sockets)
        {
            transport = Sockets("chosen (--transport sockets)", loggerFactory, time, descriptors);
        }
        else
        {
            try
            {
                var engine = UringEngine.Start(Math.Max(1, ioThreads), loggerFactory);
                transport = new GatewayTransport(
                    "io_uring",
                    kind == TransportKind.IoUring ? $"chosen (--transport io-uring), {engine.RingCount} ring(s)" : $"available, {engine.RingCount} ring(s)",
                    new UringListenerFactory(engine, loggerFactory, time, descriptors),
                    new UringBackendConnector(engine),
                    engine,
                    engine);
            }
            catch (UringUnavailableException ex) when (kind == TransportKind.Auto)
            {
                transport = Sockets($"io_uring not available: {ex.Message}", loggerFactory, time, descriptors);
            }
        }

        LogSelected(logger, transport.Name, transport.Reason);
        return transport;
    }

    public void Dispose()
    {
        (Connector as IDisposable)?.Dispose();
        (Listeners as IDisposable)?.Dispose();
        _owned?.Dispose();
    }

    private static GatewayTransport Sockets(string reason, ILoggerFactory loggerFactory, TimeProvider? time, DescriptorBudget? descriptors) =>
        new("sockets", reason, new SocketListenerFactory(loggerFactory, time, descriptors), new BackendConnector(loggerFactory), null, null);

    [LoggerMessage(EventId = Observability.LogEvents.TransportSelected, Level = LogLevel.Information, Message = "Transport: {Transport} ({Reason})")]
    private static partial void LogSelected(ILogger logger, string transport, string reason);
}
