using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ClusterGate.Core.Frontends;

/// <summary>Kestrel's socket transport with the settings measured best for a relay (see README, Benchmarks).</summary>
internal static class ListenerTransport
{
    public static SocketTransportFactory Create(ILoggerFactory loggerFactory) => new(
        Options.Create(new SocketTransportOptions
        {
            // Relay work is short and never blocks: run continuations on the I/O thread.
            UnsafePreferInlineScheduling = true,
            WaitForDataBeforeAllocatingBuffer = false,
            NoDelay = true,
        }),
        loggerFactory);
}
