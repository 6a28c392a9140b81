using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Transport;

/// <summary>What both listeners share: the listening socket (bound by .NET, so a bind fails the same way on either
/// transport) and the accept back-off log lines.</summary>
internal static partial class ListenSocket
{
    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan LastBackoff = TimeSpan.FromSeconds(1);

    public static Socket Bind(EndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint is IPEndPoint { Address: var address } && address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(endpoint);
            socket.Listen(512);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    [LoggerMessage(EventId = Observability.LogEvents.AcceptFailed, Level = LogLevel.Warning, Message = "Accepting on {Endpoint} failed: {Reason}; backing off (logged once until an accept succeeds again)")]
    public static partial void LogAcceptFailed(ILogger logger, EndPoint? endpoint, string reason);

    [LoggerMessage(EventId = Observability.LogEvents.AcceptRecovered, Level = LogLevel.Information, Message = "Accepting on {Endpoint} works again after {Failures} failed attempts")]
    public static partial void LogAcceptRecovered(ILogger logger, EndPoint? endpoint, long failures);
}
