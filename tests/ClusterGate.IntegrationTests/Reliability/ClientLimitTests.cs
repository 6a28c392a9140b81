using System.Globalization;
using System.Net.Sockets;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Reliability;

/// <summary>
/// Clients cannot exhaust the gateway's file descriptors: past what the limit allows (with a reserve for the
/// backends and the topology monitor) a client gets Redis's <c>-ERR max number of clients reached</c> and is
/// closed, the process stays up and clients already connected keep working.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClientLimitTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);
    private const string MaxClientsReached = "-ERR max number of clients reached";

    [Fact]
    public async Task DescriptorLimit_MoreClientsThanDescriptors_ExtraClientsRefusedProcessServesOn()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var gateway = await GatewayProcess.StartAsync(fixture.Cluster, descriptorLimit: 256, ["--log-level", "Warning"], cts.Token);
        await using var goodRouter = await RespClient.ConnectAsync(gateway.RouterPort, cts.Token);
        await using var goodShard = await RespClient.ConnectAsync(gateway.ShardBasePort, cts.Token);
        Assert.Equal("+PONG", (await goodShard.CallAsync(ReplyBound, cts.Token, "PING")).ToString());

        var clients = new List<RespClient>();
        try
        {
            var (acceptedRouter, refusedRouter) = await FloodAsync(gateway.RouterPort, 300, clients, cts.Token);
            var (acceptedShard, refusedShard) = await FloodAsync(gateway.ShardBasePort, 150, clients, cts.Token);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"router: {acceptedRouter} served, {refusedRouter} refused; shard port: {acceptedShard} served, {refusedShard} refused; gateway descriptors {gateway.OpenDescriptors()} of 256"));

            Assert.False(gateway.HasExited, gateway.Output);
            Assert.True(refusedRouter > 0, "a router client beyond the descriptor budget was not refused");
            Assert.True(refusedShard > 0, "a shard-port client beyond the descriptor budget was not refused");
            Assert.True(acceptedRouter > 0);

            // Clients connected before the flood still work, both frontends, reads and writes.
            Assert.True((await goodRouter.CallAsync(ReplyBound, cts.Token, "SET", "limits:router", "v")).IsOk);
            Assert.Equal("$v", (await goodRouter.CallAsync(ReplyBound, cts.Token, "GET", "limits:router")).ToString());
            Assert.Equal("+PONG", (await goodShard.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

        // Room again once they left.
        await RedisCluster.WaitUntilAsync(
            async c =>
            {
                await using var again = await RespClient.ConnectAsync(gateway.RouterPort, c);
                return (await again.CallAsync(ReplyBound, c, "PING")).ToString() == "+PONG";
            },
            TimeSpan.FromSeconds(15),
            "a new router client to be served after the others left",
            ct: cts.Token);
        Assert.False(gateway.HasExited, gateway.Output);
    }

    [Fact]
    public async Task MaxClients_OneMoreThanAllowed_RefusedWithRedisErrorAndClosed()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var gateway = await GatewayProcess.StartAsync(fixture.Cluster, descriptorLimit: 4096, ["--log-level", "Warning", "--router-maxclients", "3", "--maxclients", "2"], cts.Token);
        var clients = new List<RespClient>();
        try
        {
            // The start-up probe's sessions end as their clients leave: give them a moment.
            await Task.Delay(500, cts.Token);
            var (routerServed, routerRefused) = await FloodAsync(gateway.RouterPort, 5, clients, cts.Token);
            var (shardServed, shardRefused) = await FloodAsync(gateway.ShardBasePort, 4, clients, cts.Token);
            Assert.Equal((3, 2), (routerServed, routerRefused));
            Assert.Equal((2, 2), (shardServed, shardRefused));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task DescriptorLimitLoweredToUse_ClientsRefused_ProcessSurvivesAndServesOnceRaised()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var gateway = await GatewayProcess.StartAsync(fixture.Cluster, descriptorLimit: 4096, ["--log-level", "Warning"], cts.Token);
        await using var good = await RespClient.ConnectAsync(gateway.RouterPort, cts.Token);
        Assert.True((await good.CallAsync(ReplyBound, cts.Token, "SET", "limits:lowered", "v")).IsOk);

        // An operator (or a leak elsewhere) sets the limit down to what the process holds. The runtime itself needs
        // descriptors (without any, .NET dies with "Out of memory."): the spares are given back within a tenth of a
        // second. Below what the process holds, any process can die before its first look (seen here under load), so
        // this leaves two.
        await PrlimitAsync(gateway.Pid, gateway.OpenDescriptors() + 2, cts.Token);
        await Task.Delay(TimeSpan.FromSeconds(1.5), cts.Token);
        Assert.False(gateway.HasExited, $"the gateway died when its descriptor limit was lowered; its output:\n{gateway.Output}");
        var cpuBefore = GatewayProcess.CpuTime(gateway.Pid);
        for (var i = 0; i < 5; i++)
        {
            await using var refused = await RespClient.ConnectAsync(gateway.RouterPort, cts.Token);
            var reply = await refused.CallAsync(TimeSpan.FromSeconds(10), cts.Token, "PING");
            Assert.Equal(MaxClientsReached, reply.ToString());
        }

        await Task.Delay(TimeSpan.FromSeconds(3), cts.Token);
        Assert.False(gateway.HasExited, $"the gateway died while short of descriptors; its output:\n{gateway.Output}");
        var cpu = GatewayProcess.CpuTime(gateway.Pid) - cpuBefore;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gateway CPU while short of descriptors: {cpu.TotalMilliseconds:0} ms"));
        Assert.False(gateway.HasExited, gateway.Output);
        // The spares are given back when the limit is seen to drop (every tenth of a second) or at the first accept that fails;
        // either way clients are refused with Redis's error and the log says why.
        Assert.True(
            gateway.Output.Contains("backing off", StringComparison.Ordinal) || gateway.Output.Contains("too few file descriptors left", StringComparison.Ordinal),
            gateway.Output);

        // Clients already connected are served meanwhile; new ones once descriptors are back.
        Assert.Equal("$v", (await good.CallAsync(ReplyBound, cts.Token, "GET", "limits:lowered")).ToString());
        await PrlimitAsync(gateway.Pid, 4096, cts.Token);
        await RedisCluster.WaitUntilAsync(
            async c =>
            {
                await using var again = await RespClient.ConnectAsync(gateway.RouterPort, c);
                return (await again.CallAsync(ReplyBound, c, "PING")).ToString() == "+PONG";
            },
            TimeSpan.FromSeconds(15),
            "a new router client to be served once the limit is raised",
            ct: cts.Token);
        Assert.False(gateway.HasExited, gateway.Output);
    }

    /// <summary>Sets the soft descriptor limit of a process (the hard limit stays: raising it again needs no privilege).</summary>
    private static async Task PrlimitAsync(int pid, int softLimit, CancellationToken ct)
    {
        var prlimit = ProcessRunner.FindOnPath("prlimit") ?? throw new InvalidOperationException("prlimit (util-linux) is not on PATH.");
        var (exitCode, _, stderr) = await ProcessRunner.RunAsync(
            prlimit, ["--pid", pid.ToString(CultureInfo.InvariantCulture), string.Create(CultureInfo.InvariantCulture, $"--nofile={softLimit}:4096")], TimeSpan.FromSeconds(10), ct);
        Assert.True(exitCode == 0, $"prlimit failed: {stderr}");
    }

    /// <summary>Opens <paramref name="count"/> clients one by one, each sends PING; counts those served and those refused.</summary>
    private static async Task<(int Served, int Refused)> FloodAsync(int port, int count, List<RespClient> keep, CancellationToken ct)
    {
        var served = 0;
        var refused = 0;
        for (var i = 0; i < count; i++)
        {
            RespClient client;
            try
            {
                client = await RespClient.ConnectAsync(port, ct);
            }
            catch (SocketException)
            {
                refused++;
                continue;
            }

            keep.Add(client);
            try
            {
                var reply = await client.CallAsync(ReplyBound, ct, "PING");
                if (reply.ToString() == "+PONG")
                {
                    served++;
                    continue;
                }

                Assert.Equal(MaxClientsReached, reply.ToString());
                Assert.True(await client.WaitForCloseAsync(ReplyBound, ct), "a refused client was not closed");
                refused++;
            }
            catch (Exception ex) when (ex is SocketException or EndOfStreamException)
            {
                refused++;
            }
        }

        return (served, refused);
    }
}
