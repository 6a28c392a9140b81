using System.Globalization;
using System.Text.RegularExpressions;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>Topology replies through a shard port name gateway ports only (and real ones with rewriting off).</summary>
[Collection(ClusterCollection.Name)]
public sealed partial class ShardPortRewriteTests(RedisClusterFixture fixture, SharedShardGateway shared, ITestOutputHelper output)
    : IClassFixture<SharedShardGateway>, IDisposable
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task ClusterNodes_ThroughShardPort_OnlyGatewayPortsInAddresses(int protocol)
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        foreach (var port in gateway.Ports)
        {
            await using var client = await ConnectAsync(port, protocol, cts.Token);
            var reply = await client.CallAsync(ReplyBound, cts.Token, "CLUSTER", "NODES");
            Assert.True(reply.Type is '$' or '=', $"CLUSTER NODES answered {reply}");
            var text = reply.Type == '=' ? reply.Text![4..] : reply.Text!;
            output.WriteLine($"CLUSTER NODES via {port} (RESP{protocol}):\n{text}");

            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            var addressPorts = lines.Select(l => int.Parse(AddressPort().Match(l.Split(' ')[1]).Groups[1].Value, CultureInfo.InvariantCulture)).Order().ToList();
            Assert.Equal(gateway.Ports.Order(), addressPorts);
            Assert.Contains(lines, l => l.Contains("myself", StringComparison.Ordinal) && l.Contains($":{port}@", StringComparison.Ordinal));
            AssertNoRealClientPort(gateway, text, $"CLUSTER NODES via {port}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task ClusterSlots_ThroughShardPort_EverySlotRangeOnItsGroupsGatewayPort(int protocol)
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        foreach (var port in gateway.Ports)
        {
            await using var client = await ConnectAsync(port, protocol, cts.Token);
            var reply = await client.CallAsync(ReplyBound, cts.Token, "CLUSTER", "SLOTS");
            output.WriteLine($"CLUSTER SLOTS via {port} (RESP{protocol}): {reply}");
            Assert.Equal('*', reply.Type);

            var covered = 0L;
            foreach (var range in reply.Items!)
            {
                var start = (int)range.Items![0].Integer;
                var end = (int)range.Items[1].Integer;
                covered += end - start + 1;
                var nodes = range.Items.Skip(2).ToList();
                Assert.NotEmpty(nodes);
                Assert.Equal("127.0.0.1", nodes[0].Items![0].Text);
                Assert.Equal(gateway.PortOfSlot(start), (int)nodes[0].Items![1].Integer);
                Assert.All(nodes, n => Assert.Contains((int)n.Items![1].Integer, gateway.Ports));
            }

            Assert.Equal(16384, covered);
            AssertNoRealClientPort(gateway, reply, $"CLUSTER SLOTS via {port}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task ClusterShards_ThroughShardPort_EveryNodePortIsAGatewayPort(int protocol)
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        foreach (var port in gateway.Ports)
        {
            await using var client = await ConnectAsync(port, protocol, cts.Token);
            var reply = await client.CallAsync(ReplyBound, cts.Token, "CLUSTER", "SHARDS");
            output.WriteLine($"CLUSTER SHARDS via {port} (RESP{protocol}): {reply}");
            Assert.Equal('*', reply.Type);
            Assert.Equal(3, reply.Items!.Count);

            var nodePorts = new List<int>();
            CollectValuesOf(reply, "port", nodePorts);
            Assert.NotEmpty(nodePorts);
            Assert.All(nodePorts, p => Assert.Contains(p, gateway.Ports));
            Assert.Equal(gateway.Ports.Order(), nodePorts.Distinct().Order());
            AssertNoRealClientPort(gateway, reply, $"CLUSTER SHARDS via {port}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task TopologyCommands_PipelinedInOneWrite_EachReplyRewrittenAsItsOwnCommand(int protocol)
    {
        // StackExchange.Redis 3.x sends CLUSTER SLOTS then CLUSTER NODES back to back: the second must not be
        // taken for the first (a subcommand's traits remembered under the container's name leaked real addresses).
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await ConnectAsync(gateway.Ports[0], protocol, cts.Token);
        string[][] commands = [["CLUSTER", "SLOTS"], ["CLUSTER", "NODES"], ["CLUSTER", "SHARDS"], ["CLUSTER", "NODES"], ["CLUSTER", "SLOTS"]];
        await client.SendRawAsync(commands.SelectMany(c => RespClient.Encode(c)).ToArray(), cts.Token);
        foreach (var command in commands)
        {
            var reply = await client.ReadAsync(ReplyBound, cts.Token);
            var what = $"{string.Join(' ', command)} in a pipeline (RESP{protocol})";
            output.WriteLine($"{what}: {reply}");
            Assert.Equal(command[1] == "NODES", reply.Type is '$' or '=');
            AssertNoRealClientPort(gateway, reply, what);
        }
    }

    [Fact]
    public async Task ClusterNodes_ThroughShardPort_NoRealBusPortEither()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Ports[0], cts.Token);
        var text = (await client.CallAsync(ReplyBound, cts.Token, "CLUSTER", "NODES")).Text!;
        output.WriteLine(text);

        var busPorts = fixture.Cluster.Nodes.Select(n => n.BusPort).ToHashSet();
        var leaked = PortLike().Matches(WithoutNodeIds(text)).Select(m => int.Parse(m.Value, CultureInfo.InvariantCulture)).Where(busPorts.Contains).ToList();
        Assert.True(leaked.Count == 0, $"CLUSTER NODES through a shard port names real cluster-bus ports {string.Join(", ", leaked)}:\n{text}");
    }

    [Fact]
    public async Task RewriteRedirectsOff_ClusterNodesAndMoved_RealAddressesPassThrough()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await ShardGateway.StartAsync(fixture.Cluster, log, o => o.RewriteRedirects = false, cts.Token);
        var from = gateway.Manager.Bindings[0];
        var owner = gateway.Manager.Bindings[1];
        await using var client = await RespClient.ConnectAsync(from.Port, cts.Token);

        var nodes = (await client.CallAsync(ReplyBound, cts.Token, "CLUSTER", "NODES")).Text!;
        foreach (var node in fixture.Cluster.Nodes)
        {
            Assert.Contains($"127.0.0.1:{node.Port}@{node.BusPort}", nodes, StringComparison.Ordinal);
        }

        Assert.All(gateway.Ports, p => Assert.DoesNotContain($":{p}@", nodes, StringComparison.Ordinal));

        var key = $"{{{gateway.TagOfGroup(owner.GroupId)}}}:norewrite";
        var moved = await client.CallAsync(ReplyBound, cts.Token, "GET", key);
        Assert.Equal($"MOVED {HashSlots.Of(key)} 127.0.0.1:{gateway.MasterPortOfGroup(owner.GroupId)}", moved.Text);

        var slots = await client.CallAsync(ReplyBound, cts.Token, "CLUSTER", "SLOTS");
        Assert.All(slots.Items!, r => Assert.Equal(gateway.MasterPortOfGroup(gateway.GroupOfSlot((int)r.Items![0].Integer)), (int)r.Items[2].Items![1].Integer));
    }

    private static async Task<RespClient> ConnectAsync(int port, int protocol, CancellationToken ct)
    {
        var client = await RespClient.ConnectAsync(port, ct);
        if (protocol == 3)
        {
            var hello = await client.CallAsync(ReplyBound, ct, "HELLO", "3");
            Assert.True(hello.Type == '%', $"HELLO 3 answered {hello}");
        }

        return client;
    }

    /// <summary>
    /// No integer equals, and no text contains as a number, a real node's client port (replication
    /// offsets are counters, not addresses: skipped).
    /// </summary>
    private static void AssertNoRealClientPort(ShardGateway gateway, RespReply reply, string what)
    {
        var realPorts = gateway.Cluster.Nodes.Select(n => n.Port).ToHashSet();
        Walk(reply, null);

        void Walk(RespReply value, RespReply? previous)
        {
            if (value.Items is not null)
            {
                for (var i = 0; i < value.Items.Count; i++)
                {
                    Walk(value.Items[i], i > 0 ? value.Items[i - 1] : null);
                }

                return;
            }

            if (value.Type == ':' && previous?.Text != "replication-offset")
            {
                Assert.False(realPorts.Contains((int)value.Integer), $"{what}: real port {value.Integer} in {reply}");
            }

            if (value.Text is { } text && value.Type != ':')
            {
                AssertNoRealClientPort(gateway, text, what);
            }
        }
    }

    private static void AssertNoRealClientPort(ShardGateway gateway, string text, string what)
    {
        var realPorts = gateway.Cluster.Nodes.Select(n => n.Port).ToHashSet();
        var leaked = PortLike().Matches(WithoutNodeIds(text)).Select(m => int.Parse(m.Value, CultureInfo.InvariantCulture)).Where(realPorts.Contains).ToList();
        Assert.True(leaked.Count == 0, $"{what}: real node port(s) {string.Join(", ", leaked)} in: {text}");
    }

    /// <summary>Values that follow the field name <paramref name="field"/> in any map (RESP3) or flat key/value array (RESP2).</summary>
    private static void CollectValuesOf(RespReply reply, string field, List<int> values)
    {
        if (reply.Items is null)
        {
            return;
        }

        for (var i = 0; i < reply.Items.Count; i++)
        {
            if (reply.Items[i].Text == field && i + 1 < reply.Items.Count && reply.Items[i + 1].Type == ':')
            {
                values.Add((int)reply.Items[i + 1].Integer);
            }

            CollectValuesOf(reply.Items[i], field, values);
        }
    }

    private static string WithoutNodeIds(string text) => NodeId().Replace(text, "<id>");

    [GeneratedRegex("^[^:]*:([0-9]+)@")]
    private static partial Regex AddressPort();

    [GeneratedRegex("(?<![0-9])[0-9]{4,5}(?![0-9])")]
    private static partial Regex PortLike();

    [GeneratedRegex("[0-9a-f]{40}")]
    private static partial Regex NodeId();

    public void Dispose() => shared.Log.Output = null;
}
