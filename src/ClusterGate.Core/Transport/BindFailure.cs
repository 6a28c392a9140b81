using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace ClusterGate.Core.Transport;

/// <summary>Why a listening port could not be bound, in the words an operator needs (no stack trace).</summary>
public static class BindFailure
{
    public static string Reason(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case AddressInUseException:
                case SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }:
                    return "address already in use";
                case SocketException { SocketErrorCode: SocketError.AddressNotAvailable }:
                    return "address not available on this host";
                case SocketException { SocketErrorCode: SocketError.AccessDenied }:
                    return "permission denied (ports below 1024 need privileges)";
            }
        }

        return exception.Message;
    }
}

/// <summary>Shard ports that could not be bound when the gateway started.</summary>
public sealed class ShardPortBindException(IReadOnlyList<(int GroupId, int Port, string Reason)> failures)
    : Exception($"{failures.Count} shard port(s) could not be bound")
{
    public IReadOnlyList<(int GroupId, int Port, string Reason)> Failures { get; } = failures;
}
