using System.Globalization;
using System.Text;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Reliability;

/// <summary>
/// A shard-port session ends with its client, whatever is pending: the backend connection closes, so Redis
/// drops a blocked <c>BLPOP</c> instead of serving it to nobody (which would lose the job it pops).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ShardPortClientLeavesTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan GoneBound = TimeSpan.FromSeconds(10);
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task ClientLeaves_BlockedInBlpop_SessionEndsAndLaterJobsAreNotEaten()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await ShardGateway.StartAsync(fixture.Cluster, log, null, cts.Token);
        var group = gateway.Manager.Bindings[0];
        var key = $"{{{gateway.TagOfGroup(group.GroupId)}}}:jobs:{_run}";
        var master = gateway.MasterPortOfGroup(group.GroupId);

        const int leavers = 20;
        for (var i = 0; i < leavers; i++)
        {
            await using var client = await RespClient.ConnectAsync(group.Port, cts.Token);
            await client.SendAsync(cts.Token, "BLPOP", key, "0");
        }

        // Blocked on the master while their clients are gone: each one would pop a job nobody sees.
        await WaitForSessionsAsync(gateway, group.Port, 0, cts.Token);
        await RedisCluster.WaitUntilAsync(
            async c => await BlockedClientsAsync(master, c) == 0,
            GoneBound,
            $"the master 127.0.0.1:{master} to have no blocked client left",
            ct: cts.Token);

        await using var producer = await RespClient.ConnectAsync(group.Port, cts.Token);
        Assert.Equal(3, (await producer.CallAsync(ReplyBound, cts.Token, "LPUSH", key, "job1", "job2", "job3")).Integer);
        Assert.Equal(3, (await producer.CallAsync(ReplyBound, cts.Token, "LLEN", key)).Integer);
        await producer.CallAsync(ReplyBound, cts.Token, "DEL", key);
    }

    [Fact]
    public async Task ClientLeaves_InlineRequestWithNulPending_SessionEnds()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await ShardGateway.StartAsync(fixture.Cluster, log, null, cts.Token);
        var port = gateway.Manager.Bindings[0].Port;
        for (var i = 0; i < 20; i++)
        {
            await using var client = await RespClient.ConnectAsync(port, cts.Token);
            await client.SendRawAsync(Encoding.ASCII.GetBytes("PING\0\n"), cts.Token);
        }

        await WaitForSessionsAsync(gateway, port, 0, cts.Token);

        // The port still serves.
        await using var next = await RespClient.ConnectAsync(port, cts.Token);
        Assert.Equal("+PONG", (await next.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
    }

    private static Task WaitForSessionsAsync(ShardGateway gateway, int port, int expected, CancellationToken ct) =>
        RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(gateway.Manager.Bindings.Single(b => b.Port == port).ActiveSessions == expected),
            GoneBound,
            string.Create(CultureInfo.InvariantCulture, $"shard port {port} to have {expected} sessions (clients left)"),
            ct: ct);

    private static async Task<long> BlockedClientsAsync(int port, CancellationToken ct)
    {
        await using var node = await RespClient.ConnectAsync(port, ct);
        var info = (await node.CallAsync(ReplyBound, ct, "INFO", "clients")).Text ?? string.Empty;
        var line = info.Split('\n').Single(l => l.StartsWith("blocked_clients:", StringComparison.Ordinal));
        return long.Parse(line["blocked_clients:".Length..].Trim(), CultureInfo.InvariantCulture);
    }
}
