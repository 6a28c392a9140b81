using System.Globalization;
using System.Text;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>The relay itself on a healthy cluster: commands, pipelines, inline input, bad input, redirects.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ShardPortRelayTests(RedisClusterFixture fixture, SharedShardGateway shared, ITestOutputHelper output)
    : IClassFixture<SharedShardGateway>, IDisposable
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Commands_EachGroupPort_PingSetGetReachTheGroupsMaster()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        Assert.Equal(3, gateway.Ports.Count);

        foreach (var binding in gateway.Manager.Bindings)
        {
            var key = $"{{{gateway.TagOfGroup(binding.GroupId)}}}:relay:{_run}";
            await using var client = await RespClient.ConnectAsync(binding.Port, cts.Token);

            Assert.Equal("+PONG", (await client.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
            Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", key, "v-" + binding.Port)).IsOk);
            Assert.Equal("v-" + binding.Port, (await client.CallAsync(ReplyBound, cts.Token, "GET", key)).Text);

            // The write landed on the group's real master.
            var master = gateway.MasterPortOfGroup(binding.GroupId);
            Assert.Equal("v-" + binding.Port, (await fixture.Cluster.CliAsync(master, ["GET", key], cts.Token)).Trim());
        }
    }

    [Fact]
    public async Task Pipeline_TenThousandCommandsInOneWrite_TenThousandRepliesInOrder()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var group = gateway.Manager.Bindings[1];
        var tag = gateway.TagOfGroup(group.GroupId);
        const int count = 10_000;

        // SET k_i i, GET k_(i-1), ECHO i in turn: each reply proves its position.
        var batch = new MemoryStream();
        var expected = new string[count];
        for (var i = 0; i < count; i++)
        {
            var n = i.ToString(CultureInfo.InvariantCulture);
            string[] command;
            switch (i % 3)
            {
                case 0:
                    command = ["SET", $"{{{tag}}}:pipe:{_run}:{n}", n];
                    expected[i] = "+OK";
                    break;
                case 1:
                    var previous = (i - 1).ToString(CultureInfo.InvariantCulture);
                    command = ["GET", $"{{{tag}}}:pipe:{_run}:{previous}"];
                    expected[i] = "$" + previous;
                    break;
                default:
                    command = ["ECHO", "echo-" + n];
                    expected[i] = "$echo-" + n;
                    break;
            }

            batch.Write(RespClient.Encode(command));
        }

        await using var client = await RespClient.ConnectAsync(group.Port, cts.Token);
        await client.SendRawAsync(batch.ToArray(), cts.Token);
        for (var i = 0; i < count; i++)
        {
            var reply = await client.ReadAsync(ReplyBound, cts.Token);
            Assert.True(expected[i] == reply.ToString(), $"reply {i}: expected {expected[i]}, got {reply}");
        }

        Assert.Equal("+PONG", (await client.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
    }

    [Fact]
    public async Task InlineCommands_TypedRaw_AnsweredLikeRedis()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var group = gateway.Manager.Bindings[0];
        var key = $"{{{gateway.TagOfGroup(group.GroupId)}}}:inline:{_run}";
        await using var client = await RespClient.ConnectAsync(group.Port, cts.Token);

        await client.SendRawAsync("PING\r\n"u8.ToArray(), cts.Token);
        Assert.Equal("+PONG", (await client.ReadAsync(ReplyBound, cts.Token)).ToString());

        await client.SendRawAsync(Encoding.UTF8.GetBytes($"SET {key} typed\r\nGET {key}\r\nECHO \"two words\"\r\n"), cts.Token);
        Assert.True((await client.ReadAsync(ReplyBound, cts.Token)).IsOk);
        Assert.Equal("typed", (await client.ReadAsync(ReplyBound, cts.Token)).Text);
        Assert.Equal("two words", (await client.ReadAsync(ReplyBound, cts.Token)).Text);

        // An inline command split over two writes.
        await client.SendRawAsync("PI"u8.ToArray(), cts.Token);
        await Task.Delay(50, cts.Token);
        await client.SendRawAsync("NG\r\n"u8.ToArray(), cts.Token);
        Assert.Equal("+PONG", (await client.ReadAsync(ReplyBound, cts.Token)).ToString());
    }

    [Fact]
    public async Task MalformedFrame_BadBulkLength_ProtocolErrorThenCloseOthersUnaffected()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var port = gateway.Ports[0];
        await using var bystander = await RespClient.ConnectAsync(port, cts.Token);
        await using var bad = await RespClient.ConnectAsync(port, cts.Token);
        Assert.Equal("+PONG", (await bystander.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        Assert.Equal("+PONG", (await bad.CallAsync(ReplyBound, cts.Token, "PING")).ToString());

        await bad.SendRawAsync("*1\r\n$x\r\n"u8.ToArray(), cts.Token);
        var reply = await bad.ReadAsync(ReplyBound, cts.Token);
        Assert.True(reply.IsError && reply.Text!.StartsWith("ERR Protocol error", StringComparison.Ordinal), $"got {reply}");
        Assert.True(await bad.WaitForCloseAsync(ReplyBound, cts.Token), "the connection stayed open after a protocol error");

        Assert.Equal("+PONG", (await bystander.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        await using var fresh = await RespClient.ConnectAsync(port, cts.Token);
        Assert.Equal("+PONG", (await fresh.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
    }

    [Fact]
    public async Task ForeignKey_SlotOfAnotherGroup_MovedToGatewayPortOfOwner()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var realPorts = gateway.RealPorts;

        foreach (var from in gateway.Manager.Bindings)
        {
            await using var client = await RespClient.ConnectAsync(from.Port, cts.Token);
            foreach (var owner in gateway.Manager.Bindings.Where(b => b.GroupId != from.GroupId))
            {
                var key = $"{{{gateway.TagOfGroup(owner.GroupId, "f")}}}:foreign:{_run}";
                var slot = HashSlots.Of(key);
                var reply = await client.CallAsync(ReplyBound, cts.Token, "GET", key);
                Assert.True(reply.IsError, $"GET of a foreign key on port {from.Port} answered {reply}");
                Assert.Equal($"MOVED {slot} 127.0.0.1:{owner.Port}", reply.Text);
                Assert.DoesNotContain(int.Parse(reply.Text!.Split(':')[^1], CultureInfo.InvariantCulture), realPorts);
            }
        }
    }

    public void Dispose() => shared.Log.Output = null;
}
