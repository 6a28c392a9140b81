using System.Diagnostics;
using System.Globalization;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>
/// Failovers where the old master keeps answering (CLUSTER FAILOVER on its replica), and pinned ports.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class ShardPortManualFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(25);

    [Fact]
    public async Task ManualFailover_ClientKeepsWriting_SessionMovesToTheNewMasterWithoutDisconnectOrLostWrite()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = TimeSpan.FromMilliseconds(2000) }, cts.Token);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await ShardGateway.StartAsync(cluster, log, null, cts.Token);
        var group = gateway.GroupOfSlot(0);
        var port = gateway.PortOfGroup(group);
        var tag = gateway.TagOfGroup(group);
        var oldMaster = gateway.MasterPortOfGroup(group);
        var replica = gateway.Monitor.Current.GroupById(group)!.Replicas[0].Announced.Port;

        await using var client = await RespClient.ConnectAsync(port, cts.Token);
        var acked = new List<string>();
        var errors = new List<string>();
        var failoverSent = false;
        var watch = Stopwatch.StartNew();
        for (var seq = 0; watch.Elapsed < TimeSpan.FromSeconds(8) || !failoverSent; seq++)
        {
            if (!failoverSent && seq == 200)
            {
                // The replica takes over in agreement with its master: no crash, no dropped connection.
                Assert.Contains("OK", await cluster.CliAsync(replica, ["CLUSTER", "FAILOVER"], cts.Token), StringComparison.Ordinal);
                failoverSent = true;
                log.WriteLine($"TEST: CLUSTER FAILOVER sent to 127.0.0.1:{replica}");
            }

            var key = string.Create(CultureInfo.InvariantCulture, $"{{{tag}}}:manual:{seq}");
            var reply = await client.CallAsync(ReplyBound, cts.Token, "SET", key, key);
            if (reply.IsOk)
            {
                acked.Add(key);
            }
            else
            {
                errors.Add(reply.ToString());
            }

            await Task.Delay(5, cts.Token);
        }

        await gateway.WaitForConfirmedMasterAsync(group, replica, TimeSpan.FromSeconds(20), cts.Token);
        output.WriteLine($"{acked.Count} acknowledged, {errors.Count} errors: {string.Join(" | ", errors.Distinct())}");

        // Writes that reached the demoted master were answered MOVED (proof they did not run), and the
        // rewritten MOVED names this same shard port: a cluster client retries here and reaches the new master.
        Assert.All(errors, e => Assert.Contains("MOVED ", e, StringComparison.Ordinal));
        Assert.All(errors, e => Assert.EndsWith($":{port}", e.Trim(), StringComparison.Ordinal));

        // The same socket now reaches the new master.
        var after = string.Create(CultureInfo.InvariantCulture, $"{{{tag}}}:manual:after");
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", after, "1")).IsOk);
        Assert.Contains("1", await cluster.CliAsync(replica, ["GET", after], cts.Token), StringComparison.Ordinal);
        Assert.DoesNotContain("master", (await cluster.CliAsync(oldMaster, ["ROLE"], cts.Token)).Split('\n')[0], StringComparison.Ordinal);

        foreach (var key in acked)
        {
            Assert.Equal(key, (await cluster.CliAsync(replica, ["GET", key], cts.Token)).Trim());
        }
    }

    [Fact]
    public async Task Pins_PortPinnedToASlot_GroupOwningTheSlotListensThere()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions(), cts.Token);
        using var log = new TestOutputLoggerProvider(output);
        int pinned;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            pinned = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var gateway = await ShardGateway.StartAsync(cluster, log, o => o.Pins.Add(new ShardPortPin(pinned, 16000)), cts.Token);
        var owner = gateway.GroupOfSlot(16000);
        Assert.Equal(pinned, gateway.PortOfGroup(owner));
        await using var client = await RespClient.ConnectAsync(pinned, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", "{" + gateway.TagOfGroup(owner) + "}:pinned", "1")).IsOk);
    }
}
