using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ClusterGate.Core.Transport.Uring;

/// <summary><c>sockaddr_in</c> / <c>sockaddr_in6</c> to and from <see cref="IPEndPoint"/>.</summary>
internal static class SockAddr
{
    public static int Write(IPEndPoint endpoint, Span<byte> destination)
    {
        destination.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endpoint.Port);
        if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination, UringNative.AfInet6);
            endpoint.Address.TryWriteBytes(destination.Slice(8, 16), out _);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], (uint)endpoint.Address.ScopeId);
            return 28;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(destination, UringNative.AfInet);
        endpoint.Address.TryWriteBytes(destination.Slice(4, 4), out _);
        return 16;
    }

    public static IPEndPoint? Read(ReadOnlySpan<byte> address)
    {
        if (address.Length < 16)
        {
            return null;
        }

        var port = BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
        return BinaryPrimitives.ReadUInt16LittleEndian(address) switch
        {
            UringNative.AfInet => new IPEndPoint(new IPAddress(address.Slice(4, 4)), port),
            UringNative.AfInet6 when address.Length >= 28 => new IPEndPoint(new IPAddress(address.Slice(8, 16), BinaryPrimitives.ReadUInt32LittleEndian(address[24..])), port),
            _ => null,
        };
    }
}
