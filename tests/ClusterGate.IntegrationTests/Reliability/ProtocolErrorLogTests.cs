using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Router;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Reliability;

/// <summary>
/// A client opening many connections that each send garbage does not flood the log: client protocol errors are
/// logged at most a set number of times per interval per frontend, and one line at the interval's end says how many were left out.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class ProtocolErrorLogTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task RouterPort_ManyMalformedConnections_AtMostLimitLoggedThenSuppressedCount()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var recording = new RecordingOutput(output);
        using var log = new TestOutputLoggerProvider(recording);
        await using var gateway = await RouterGateway.StartAsync(
            fixture.Cluster, log, o => (o.ProtocolErrorLogLimit, o.ProtocolErrorLogInterval) = (10, Interval), cts.Token);

        await AssertLimitedAsync(gateway.Port, recording, cts.Token);
    }

    [Fact]
    public async Task ShardPort_ManyMalformedConnections_AtMostLimitLoggedThenSuppressedCount()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var recording = new RecordingOutput(output);
        using var log = new TestOutputLoggerProvider(recording);
        await using var gateway = await ShardGateway.StartAsync(
            fixture.Cluster, log, o => (o.ProtocolErrorLogLimit, o.ProtocolErrorLogInterval) = (10, Interval), cts.Token);

        await AssertLimitedAsync(gateway.Ports[0], recording, cts.Token);
    }

    private static async Task AssertLimitedAsync(int port, RecordingOutput recording, CancellationToken ct)
    {
        var started = DateTime.UtcNow;
        for (var i = 0; i < 200; i++)
        {
            await SendGarbageAsync(port, ct);
        }

        Assert.True(DateTime.UtcNow - started < Interval, "200 connections took longer than the interval; the count below would not hold");
        Assert.Equal(10, ProtocolErrorLines(recording).Count);

        // The window ends with no further error: one line says how many were left out.
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(SummaryLines(recording).Count == 1),
            Interval + ReplyBound,
            "the summary of the protocol errors left out of the log",
            ct: ct);
        Assert.Contains("190 more client protocol errors", SummaryLines(recording)[0], StringComparison.Ordinal);

        // The next window logs again; its first error carries no count (the summary gave it).
        await SendGarbageAsync(port, ct);
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(ProtocolErrorLines(recording).Count == 11),
            ReplyBound,
            "the first protocol error of the next interval in the log",
            ct: ct);
        var lines = ProtocolErrorLines(recording);
        Assert.All(lines, l => Assert.Contains("(0 more before this one not logged)", l, StringComparison.Ordinal));
        Assert.Matches(RemoteEndPoint(), lines[10]);
        Assert.Single(SummaryLines(recording));
    }

    private static List<string> ProtocolErrorLines(RecordingOutput recording) =>
        [.. recording.Lines.Where(l => l.Contains("client protocol error, closing", StringComparison.Ordinal))];

    private static List<string> SummaryLines(RecordingOutput recording) =>
        [.. recording.Lines.Where(l => l.Contains("were not logged in the last", StringComparison.Ordinal))];

    private static async Task SendGarbageAsync(int port, CancellationToken ct)
    {
        await using var client = await RespClient.ConnectAsync(port, ct);
        await client.SendRawAsync("*1\r\n$x\r\n"u8.ToArray(), ct);
        var reply = await client.ReadAsync(ReplyBound, ct);
        Assert.True(reply.IsError && reply.Text!.StartsWith("ERR Protocol error", StringComparison.Ordinal), $"got {reply}");
        Assert.True(await client.WaitForCloseAsync(ReplyBound, ct), "the connection stayed open after a protocol error");
    }

    [GeneratedRegex(@"\(127\.0\.0\.1:\d+\): client protocol error")]
    private static partial Regex RemoteEndPoint();

    /// <summary>The test output, with every line kept for the assertions.</summary>
    private sealed class RecordingOutput(ITestOutputHelper inner) : ITestOutputHelper
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public void WriteLine(string message)
        {
            _lines.Enqueue(message);
            inner.WriteLine(message);
        }

        public void WriteLine(string format, params object[] args) => WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
    }
}
