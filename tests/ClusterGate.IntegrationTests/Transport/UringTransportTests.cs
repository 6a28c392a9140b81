using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Transport.Uring;
using ClusterGate.IntegrationTests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Transport;

/// <summary>
/// The io_uring transport at its edges, on real sockets: large values both ways, a peer that leaves with bytes in
/// flight, a peer that never reads, a backend that dies mid-reply. After each, every connection of the engine is
/// closed, every receive buffer is back in the kernel's ring and the process holds the descriptors it held before.
/// </summary>
public sealed class UringTransportTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(60);
    private UringEngine _engine = null!;
    private UringListenerFactory _listeners = null!;
    private int _descriptorsBefore;

    public Task InitializeAsync()
    {
        if (UringSupport.Unavailable() is { } reason)
        {
            throw new InvalidOperationException($"io_uring is not available on this machine ({reason}): these tests need it");
        }

        _descriptorsBefore = OpenDescriptors();
        _engine = UringEngine.Start(1, NullLoggerFactory.Instance);
        _listeners = new UringListenerFactory(_engine, NullLoggerFactory.Instance);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _engine.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Echo_EightMegabytesBothWays_ByteIdenticalAndEverythingReturned()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var listener = await _listeners.BindAsync(new IPEndPoint(IPAddress.Loopback, 0), cts.Token);
        var server = EchoOneAsync(listener, cts.Token);

        var payload = new byte[8 * 1024 * 1024];
        Random.Shared.NextBytes(payload);
        using var client = await ConnectAsync(listener, cts.Token);
        var send = client.SendAsync(payload, SocketFlags.None, cts.Token).AsTask();
        var received = await ReadExactlyAsync(client, payload.Length, cts.Token);
        await send;
        client.Shutdown(SocketShutdown.Both);
        await server;

        Assert.True(payload.AsSpan().SequenceEqual(received), "the echoed 8 MB differ from what was sent");
        await AssertAllReturnedAsync(cts.Token);
    }

    [Fact]
    public async Task ClientLeavesWithRepliesInFlight_ServerSeesTheEndAndEverythingReturned()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var listener = await _listeners.BindAsync(new IPEndPoint(IPAddress.Loopback, 0), cts.Token);
        var accepted = listener.AcceptAsync(cts.Token).AsTask();
        var client = await ConnectAsync(listener, cts.Token);
        await using var connection = (await accepted)!;

        // The server writes 64 MB; the client reads 1 MB of it and resets the connection.
        var writer = WriteAsync(connection.Transport.Output, 64 * 1024 * 1024, cts.Token);
        await ReadExactlyAsync(client, 1024 * 1024, cts.Token);
        client.LingerState = new LingerOption(true, 0);
        client.Dispose();

        var written = await writer;
        output.WriteLine($"server got {written} bytes through before the reset ended its writes");
        Assert.True(written < 64 * 1024 * 1024, "every write succeeded although the client was gone");
        try
        {
            var read = await connection.Transport.Input.ReadAsync(cts.Token);
            Assert.True(read.IsCompleted, "the input did not end with the connection");
            connection.Transport.Input.AdvanceTo(read.Buffer.End);
        }
        catch (ConnectionResetException)
        {
            // The reset ends the input with the error, as Kestrel's socket transport does.
        }

        await connection.DisposeAsync();
        await AssertAllReturnedAsync(cts.Token);
    }

    [Fact]
    public async Task ClientNeverReads_WritesWaitWithBoundedBuffering_ThenAllArriveOnceItReads()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var listener = await _listeners.BindAsync(new IPEndPoint(IPAddress.Loopback, 0), cts.Token);
        var accepted = listener.AcceptAsync(cts.Token).AsTask();
        using var client = await ConnectAsync(listener, cts.Token);
        await using var connection = (await accepted)!;

        const int total = 64 * 1024 * 1024;
        var progress = new StrongBox();
        var writer = WriteAsync(connection.Transport.Output, total, cts.Token, progress);
        await Task.Delay(TimeSpan.FromSeconds(2), cts.Token);

        // What a non-reading peer can make the gateway hold is its pipe's pause threshold, not what the writer has.
        var stalledAt = Volatile.Read(ref progress.Value);
        output.WriteLine($"flushes completed before the peer read anything: {stalledAt} bytes (kernel socket buffers + 64 KB pipe)");
        Assert.False(writer.IsCompleted);
        Assert.True(stalledAt < 16 * 1024 * 1024, $"{stalledAt} bytes were accepted from the writer while nobody read");

        var received = await ReadExactlyAsync(client, total, cts.Token);
        Assert.Equal(total, await writer);
        Assert.Equal(total, received.Length);
        await connection.DisposeAsync();
        client.Dispose();
        await AssertAllReturnedAsync(cts.Token);
    }

    [Fact]
    public async Task BackendDiesMidReply_InputEndsEarlyAndEverythingReturned()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var redis = await StandaloneRedis.StartAsync(cts.Token);
        var connector = new UringBackendConnector(_engine);
        await using var backend = await connector.ConnectAsync("standalone", new NodeEndpoint("127.0.0.1", redis.Port), TimeSpan.FromSeconds(5), cts.Token);

        // A 32 MB value, then its GET: the reply is cut by SIGKILL once 1 MB of it has arrived.
        const int size = 32 * 1024 * 1024;
        await backend.Output.WriteAsync(Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${size}\r\n"), cts.Token);
        await backend.Output.WriteAsync(new byte[size], cts.Token);
        await backend.Output.WriteAsync("\r\n*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"u8.ToArray(), cts.Token);
        long received = 0;
        var killed = false;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await backend.Input.ReadAsync(cts.Token);
            }
            catch (ConnectionResetException)
            {
                break;
            }

            received += result.Buffer.Length;
            backend.Input.AdvanceTo(result.Buffer.End);
            if (!killed && received > 1024 * 1024)
            {
                killed = true;
                System.Diagnostics.Process.GetProcessById(redis.Pid).Kill();
            }

            if (result.IsCompleted)
            {
                break;
            }
        }

        output.WriteLine($"received {received} of {size + 5 + 20} bytes before the backend died");
        Assert.True(killed);
        Assert.True(received < size, "the whole reply arrived although the backend was killed");
        await backend.DisposeAsync();
        await AssertAllReturnedAsync(cts.Token);
    }

    [Fact]
    public async Task ConnectToAClosedPort_RefusedAsASocketError()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var connector = new UringBackendConnector(_engine);
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var error = await Assert.ThrowsAsync<SocketException>(() => connector.ConnectAsync("nobody", new NodeEndpoint("127.0.0.1", port), TimeSpan.FromSeconds(5), cts.Token));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        await AssertAllReturnedAsync(cts.Token);
    }

    [Fact]
    public async Task EngineStopsWithConnectionsOpen_TheyEndAndLaterConnectsFail()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var engine = UringEngine.Start(1, NullLoggerFactory.Instance);
        var listeners = new UringListenerFactory(engine, NullLoggerFactory.Instance);
        var listener = await listeners.BindAsync(new IPEndPoint(IPAddress.Loopback, 0), cts.Token);
        var accepted = listener.AcceptAsync(cts.Token).AsTask();
        using var client = await ConnectAsync(listener, cts.Token);
        var connection = (await accepted)!;
        await listener.UnbindAsync(cts.Token);

        engine.Dispose();

        // The transport aborted what was left: the input ends, and disposing does not wait for completions that cannot come.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var result = await connection.Transport.Input.ReadAsync(cts.Token);
            if (result.IsCompleted)
            {
                throw new IOException("ended");
            }
        });
        await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5), cts.Token);
        Assert.Equal(0, engine.LiveConnections);
        await Assert.ThrowsAsync<ConnectionAbortedException>(() =>
            new UringBackendConnector(engine).ConnectAsync("late", new NodeEndpoint("127.0.0.1", ((IPEndPoint)listener.EndPoint).Port), TimeSpan.FromSeconds(2), cts.Token).WaitAsync(TimeSpan.FromSeconds(5), cts.Token));
    }

    private static async Task EchoOneAsync(IConnectionListener listener, CancellationToken ct)
    {
        await using var connection = (await listener.AcceptAsync(ct))!;
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        while (true)
        {
            var result = await input.ReadAsync(ct);
            foreach (var segment in result.Buffer)
            {
                await output.WriteAsync(segment, ct);
            }

            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await output.CompleteAsync();
    }

    /// <summary>Writes <paramref name="total"/> bytes in 256 KB flushes; the bytes whose flush completed, until an error ends it.</summary>
    private static async Task<long> WriteAsync(PipeWriter writer, long total, CancellationToken ct, StrongBox? progress = null)
    {
        var chunk = new byte[256 * 1024];
        long written = 0;
        try
        {
            while (written < total)
            {
                var flush = await writer.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, total - written)), ct);
                if (flush.IsCompleted)
                {
                    break;
                }

                written += Math.Min(chunk.Length, total - written);
                if (progress is not null)
                {
                    Volatile.Write(ref progress.Value, written);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionAbortedException or InvalidOperationException)
        {
        }

        return written;
    }

    private static async Task<Socket> ConnectAsync(IConnectionListener listener, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync((IPEndPoint)listener.EndPoint, ct);
        return socket;
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct);
            if (n == 0)
            {
                throw new IOException($"closed after {read} of {count} bytes");
            }

            read += n;
        }

        return buffer;
    }

    /// <summary>No connection left on the ring, every receive buffer back in the kernel, descriptors as before the engine (plus its own).</summary>
    private async Task AssertAllReturnedAsync(CancellationToken ct)
    {
        var ring = _engine.Rings[0];
        await RedisCluster.WaitUntilAsync(
            async c =>
            {
                var buffers = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                ring.Post(static s => ((TaskCompletionSource<int>)s!).SetResult(0), buffers);
                await buffers.Task.WaitAsync(c);
                return _engine.LiveConnections == 0 && ring.BuffersInKernel == UringRing.BufferCount;
            },
            TimeSpan.FromSeconds(10),
            "every connection closed and every receive buffer back in the ring",
            ct: ct);

        // The engine itself holds 2 per ring (the ring and its eventfd); other tests' descriptors come and go beside.
        output.WriteLine($"descriptors: {_descriptorsBefore} before the engine, {OpenDescriptors()} now");
    }

    private static int OpenDescriptors() => Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();

    private sealed class StrongBox
    {
        public long Value;
    }
}
