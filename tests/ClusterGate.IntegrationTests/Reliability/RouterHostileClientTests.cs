using System.Diagnostics;
using System.Globalization;
using System.Text;
using ClusterGate.Core.Frontends;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Router;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Reliability;

/// <summary>
/// What one client sends or fails to read never stalls the router's shared connections for the others: inline
/// requests are re-encoded, a command Redis never answers is cut off after the reply timeout, and a client that
/// does not read is disconnected at its output limit.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RouterHostileClientTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task InlineRequest_NulByteInside_OtherClientsOfThatMasterStillServed()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await RouterGateway.StartAsync(fixture.Cluster, log, null, cts.Token);
        var tag = gateway.TagOfGroup(0);

        await using var hostile = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await hostile.SendRawAsync(Encoding.ASCII.GetBytes($"GET {{{tag}}}a\0b\n"), cts.Token);

        // Redis would wait for a line feed it never sees behind the NUL; the gateway splits the line itself.
        Assert.True((await hostile.ReadAsync(ReplyBound, cts.Token)).IsNull);
        await using var good = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await good.CallAsync(ReplyBound, cts.Token, "SET", $"{{{tag}}}:good:{_run}", "v")).IsOk);
        Assert.Equal("$v", (await good.CallAsync(ReplyBound, cts.Token, "GET", $"{{{tag}}}:good:{_run}")).ToString());
    }

    [Fact]
    public async Task SharedConnection_CommandNotAnswered_ClosedAfterReplyTimeoutAndOthersServedAgain()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        var timeout = TimeSpan.FromSeconds(2);
        await using var gateway = await RouterGateway.StartAsync(fixture.Cluster, log, o => o.ReplyTimeout = timeout, cts.Token);
        var tag = gateway.TagOfGroup(0);
        await using var master = await RespClient.ConnectAsync(gateway.MasterPortOfGroup(0), cts.Token);

        // The master holds every write (CLIENT PAUSE): a write on the shared connection gets no reply.
        Assert.True((await master.CallAsync(ReplyBound, cts.Token, "CLIENT", "PAUSE", "20000", "WRITE")).IsOk);
        try
        {
            await using var stuck = await RespClient.ConnectAsync(gateway.Port, cts.Token);
            var watch = Stopwatch.StartNew();
            var reply = await stuck.CallAsync(TimeSpan.FromSeconds(15), cts.Token, "SET", $"{{{tag}}}:paused:{_run}", "v");
            output.WriteLine($"unanswered write ended after {watch.ElapsedMilliseconds} ms: {reply}");
            Assert.True(reply.IsError);
            Assert.Contains("no reply within 2000 ms", reply.Text, StringComparison.Ordinal);
        }
        finally
        {
            await master.CallAsync(ReplyBound, CancellationToken.None, "CLIENT", "UNPAUSE");
        }

        await using var good = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await good.CallAsync(ReplyBound, cts.Token, "SET", $"{{{tag}}}:after:{_run}", "v")).IsOk);
    }

    [Fact]
    public async Task ClientNeverReads_LargeRepliesPileUp_DisconnectedAtOutputLimitOthersServed()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        var limit = new OutputBufferLimit(8L << 20, 2L << 20, TimeSpan.FromSeconds(1));
        await using var gateway = await RouterGateway.StartAsync(fixture.Cluster, log, o => o.ClientOutputLimit = limit, cts.Token);
        var tag = gateway.TagOfGroup(0);
        var key = $"{{{tag}}}:big:{_run}";
        await using var good = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await good.CallAsync(ReplyBound, cts.Token, "SET", key, new string('x', 100 * 1024))).IsOk);

        // 2,000 GETs of 100 KB: 200 MB of replies for a client that reads none.
        await using var hog = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        hog.Socket.ReceiveBufferSize = 4096;

        // Answered, so the gateway counts the hog's session: the count of 1 below means it was cut, not yet accepted.
        Assert.Equal("+PONG", (await hog.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        Assert.Equal(2, gateway.Frontend.ActiveSessions);
        var request = RespClient.Encode("GET", key);
        var batch = new byte[request.Length * 2000];
        for (var i = 0; i < 2000; i++)
        {
            request.CopyTo(batch, i * request.Length);
        }

        await hog.SendRawAsync(batch, cts.Token);
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(gateway.Frontend.ActiveSessions == 1),
            TimeSpan.FromSeconds(30),
            "the router to disconnect the client that does not read",
            ct: cts.Token);

        var served = Stopwatch.StartNew();
        Assert.Equal(100 * 1024, (await good.CallAsync(ReplyBound, cts.Token, "GET", key)).Text!.Length);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"the other client was served in {served.ElapsedMilliseconds} ms"));
        await good.CallAsync(ReplyBound, cts.Token, "DEL", key);
    }

    [Fact]
    public async Task ClientSentPipelineAndStoppedReading_RepliesOverSoftLimit_DisconnectedAfterSoftDuration()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);

        // No hard limit: only the soft one (1 MB for 1 s) can end it, with no reply arriving after the pipeline's.
        var limit = new OutputBufferLimit(0, 1L << 20, TimeSpan.FromSeconds(1));
        await using var gateway = await RouterGateway.StartAsync(fixture.Cluster, log, o => o.ClientOutputLimit = limit, cts.Token);
        var key = $"{{{gateway.TagOfGroup(0)}}}:soft:{_run}";
        await using var good = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await good.CallAsync(ReplyBound, cts.Token, "SET", key, new string('x', 100 * 1024))).IsOk);

        await using var hog = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        hog.Socket.ReceiveBufferSize = 4096;

        // Answered, so the gateway counts the hog's session: the count of 1 below means it was cut, not yet accepted.
        Assert.Equal("+PONG", (await hog.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        Assert.Equal(2, gateway.Frontend.ActiveSessions);
        var request = RespClient.Encode("GET", key);
        var batch = new byte[request.Length * 100];
        for (var i = 0; i < 100; i++)
        {
            request.CopyTo(batch, i * request.Length);
        }

        await hog.SendRawAsync(batch, cts.Token);
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(gateway.Frontend.ActiveSessions == 1),
            TimeSpan.FromSeconds(15),
            "the router to disconnect the client whose replies stayed over the soft limit",
            ct: cts.Token);
        await good.CallAsync(ReplyBound, cts.Token, "DEL", key);
    }
}
