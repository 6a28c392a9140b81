using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;
using Xunit;
using static ClusterGate.Core.UnitTests.Frontends.Rewrite.Lab;

namespace ClusterGate.Core.UnitTests.Frontends.Rewrite;

public sealed class ReplyRewriterClusterShardsTests
{
    private static readonly string[] RewrittenNodeKeys = ["id", "port", "ip", "endpoint", "role", "replication-offset", "health"];

    public static TheoryData<string, string[]> Captures => new()
    {
        { "cluster-shards.healthy.resp", [A, B, C] },
        { "cluster-shards.healthy.resp3", [A, B, C] },
        { "cluster-shards.with-hostname.resp", [H] },
    };

    [Fact]
    public void RewriteClusterShards_Healthy_KeepsOneMasterPerShard()
    {
        var gateway = new FakeGateway(A, B, C);

        RespValue rewritten = ReplyRewriter.RewriteClusterShards(Wire.ReadCapture("cluster-shards.healthy.resp"), gateway.Map);

        Assert.Equal(
            RespValue.Array(
                Shard(5461, 10922, Master(B, 7101)),
                Shard(10923, 16383, Master(C, 7102)),
                Shard(0, 5460, Master(A, 7100))),
            rewritten);
        Assert.Equal(
            [(B, Announced(7601)), (D, Announced(7603)), (C, Announced(7602)), (E, Announced(7604)), (A, Announced(7600)), (F, Announced(7605))],
            gateway.Calls);
    }

    [Fact]
    public void RewriteClusterShards_Resp3_ShardsAndNodesStayMaps()
    {
        var gateway = new FakeGateway(A, B, C);
        RespValue flat = ReplyRewriter.RewriteClusterShards(Wire.ReadCapture("cluster-shards.healthy.resp"), new FakeGateway(A, B, C).Map);

        RespValue rewritten = ReplyRewriter.RewriteClusterShards(Wire.ReadCapture("cluster-shards.healthy.resp3"), gateway.Map);

        Assert.Equal(RespType.Array, rewritten.Type);
        Assert.Equal(flat.Items.Count, rewritten.Items.Count);
        for (int i = 0; i < flat.Items.Count; i++)
        {
            RespValue shard = rewritten.Items[i];
            Assert.Equal(RespType.Map, shard.Type);
            Assert.Equal(Wire.Get(flat.Items[i], "slots"), Wire.Get(shard, "slots"));
            RespValue node = Assert.Single(Wire.Get(shard, "nodes").Items);
            Assert.Equal(RespType.Map, node.Type);
            Assert.Equal(Assert.Single(Wire.Get(flat.Items[i], "nodes").Items).Items, node.Items);
        }
    }

    [Fact]
    public void RewriteClusterShards_HostnameOnly_MapsByHostnameAndRemovesIt()
    {
        var gateway = new FakeGateway(H);

        RespValue rewritten = ReplyRewriter.RewriteClusterShards(Wire.ReadCapture("cluster-shards.with-hostname.resp"), gateway.Map);

        Assert.Equal([(H, new NodeEndpoint("node-a.example", 7690))], gateway.Calls);
        Assert.Equal(RespValue.Array(Shard(0, 16383, Master(H, 7100))), rewritten);
    }

    [Fact]
    public void RewriteClusterShards_ReplicaMapped_KeepsItWithItsRole()
    {
        var gateway = new FakeGateway(A, B, C, D);

        RespValue rewritten = ReplyRewriter.RewriteClusterShards(Wire.ReadCapture("cluster-shards.healthy.resp"), gateway.Map);

        RespValue[] nodes = [.. Wire.Get(rewritten.Items[0], "nodes").Items];
        Assert.Equal([B, D], nodes.Select(n => Wire.Get(n, "id").AsString()));
        Assert.Equal(RespValue.Int(7103), Wire.Get(nodes[1], "port"));
        Assert.Equal("replica", Wire.Get(nodes[1], "role").AsString());
    }

    [Fact]
    public void RewriteClusterShards_NoNodeLeft_RemovesTheShard()
    {
        var gateway = new FakeGateway(A, C);

        RespValue rewritten = ReplyRewriter.RewriteClusterShards(Wire.ReadCapture("cluster-shards.healthy.resp3"), gateway.Map);

        Assert.Equal(["10923", "0"], rewritten.Items.Select(s => Wire.Get(s, "slots").Items[0].AsString()));
    }

    [Fact]
    public void RewriteClusterShards_TlsPort_IsRemovedOrBecomesThePort()
    {
        var gateway = new FakeGateway(A, B);
        RespValue reply = RespValue.Array(
            Shard(0, 100, RespValue.Map(
                RespValue.Bulk("id"), RespValue.Bulk(A),
                RespValue.Bulk("port"), RespValue.Int(7600),
                RespValue.Bulk("tls-port"), RespValue.Int(7800),
                RespValue.Bulk("ip"), RespValue.Bulk("127.0.0.1"))),
            Shard(101, 200, RespValue.Map(
                RespValue.Bulk("id"), RespValue.Bulk(B),
                RespValue.Bulk("tls-port"), RespValue.Int(7801),
                RespValue.Bulk("ip"), RespValue.Bulk("127.0.0.1"))));

        RespValue rewritten = ReplyRewriter.RewriteClusterShards(reply, gateway.Map);

        Assert.Equal([(A, Announced(7600)), (B, Announced(7801))], gateway.Calls);
        Assert.Equal(
            RespValue.Map(RespValue.Bulk("id"), RespValue.Bulk(A), RespValue.Bulk("port"), RespValue.Int(7100), RespValue.Bulk("ip"), RespValue.Bulk(FakeGateway.Host)),
            Wire.Get(rewritten.Items[0], "nodes").Items[0]);
        Assert.Equal(
            RespValue.Map(RespValue.Bulk("id"), RespValue.Bulk(B), RespValue.Bulk("port"), RespValue.Int(7101), RespValue.Bulk("ip"), RespValue.Bulk(FakeGateway.Host)),
            Wire.Get(rewritten.Items[1], "nodes").Items[0]);
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void RewriteClusterShards_Capture_KeepsExposedMastersAndReparses(string capture, string[] exposed)
    {
        var gateway = new FakeGateway(exposed);
        RespValue reply = Wire.ReadCapture(capture);

        RespValue rewritten = ReplyRewriter.RewriteClusterShards(reply, gateway.Map);

        AssertNoNodeAddress(Wire.AssertRoundTrips(rewritten));
        Assert.Equal(reply.Items.Count, rewritten.Items.Count);
        for (int i = 0; i < reply.Items.Count; i++)
        {
            Assert.Equal(reply.Items[i].Type, rewritten.Items[i].Type);
            Assert.Equal(Wire.Get(reply.Items[i], "slots"), Wire.Get(rewritten.Items[i], "slots"));
            RespValue node = Assert.Single(Wire.Get(rewritten.Items[i], "nodes").Items);
            RespValue original = Wire.Get(reply.Items[i], "nodes").Items[0];
            Assert.Equal(original.Type, node.Type);
            Assert.Equal(RewrittenNodeKeys, Wire.Keys(node));
            Assert.Equal(Wire.Get(original, "id"), Wire.Get(node, "id"));
            Assert.Equal("master", Wire.Get(node, "role").AsString());
            Assert.Equal(Wire.Get(original, "health"), Wire.Get(node, "health"));
            int index = Array.IndexOf(exposed, Wire.Get(node, "id").AsString());
            Assert.Equal(RespValue.Int(FakeGateway.Port(index).Port), Wire.Get(node, "port"));
            Assert.Equal(FakeGateway.Host, Wire.Get(node, "ip").AsString());
            Assert.Equal(FakeGateway.Host, Wire.Get(node, "endpoint").AsString());
        }
    }

    [Fact]
    public void RewriteClusterShards_UnexpectedShape_ReturnsReplyUnchanged()
    {
        var gateway = new FakeGateway(A);
        RespValue node = Master(A, 7600);
        RespValue[] replies =
        [
            RespValue.Error("ERR unknown subcommand 'SHARDS'"),
            RespValue.NullArray,
            RespValue.Bulk("shards"),
            RespValue.Array(RespValue.Int(1)),
            RespValue.Array(RespValue.Array(RespValue.Bulk("slots"))),
            RespValue.Array(RespValue.Array(RespValue.Bulk("slots"), RespValue.Array())),
            RespValue.Array(RespValue.Array(RespValue.Bulk("nodes"), RespValue.Bulk("x"))),
            RespValue.Array(RespValue.Array(RespValue.Bulk("nodes"), RespValue.Array(node), RespValue.Bulk("nodes"), RespValue.Array(node))),
            RespValue.Array(RespValue.Array(RespValue.Bulk("nodes"), RespValue.Array(RespValue.Array(RespValue.Bulk("id"))))),
            RespValue.Array(RespValue.Array(RespValue.Bulk("nodes"), RespValue.Array(RespValue.Array(RespValue.Bulk("id"), RespValue.Bulk(A))))),
            RespValue.Array(RespValue.Array(RespValue.Bulk("nodes"), RespValue.Array(RespValue.Array(RespValue.Bulk("port"), RespValue.Bulk("7600"))))),
            RespValue.Array(RespValue.Array(RespValue.Bulk("nodes"), RespValue.Array(RespValue.Array(RespValue.Int(1), RespValue.Int(7600))))),
            RespValue.Array(RespValue.Array(RespValue.Bulk("nodes"), RespValue.Array(RespValue.Array(RespValue.Bulk("port"), RespValue.Int(7600), RespValue.Bulk("ip"), RespValue.Int(1))))),
            RespValue.Array(Shard(0, 1, node), RespValue.Int(1)),
        ];

        foreach (RespValue reply in replies)
        {
            Assert.Same(reply, ReplyRewriter.RewriteClusterShards(reply, gateway.Map));
        }
    }

    private static RespValue Shard(int start, int end, params RespValue[] nodes) =>
        RespValue.Array(RespValue.Bulk("slots"), RespValue.Array(RespValue.Int(start), RespValue.Int(end)), RespValue.Bulk("nodes"), RespValue.Array(nodes));

    /// <summary>A master node as Redis 7.0 lists it (RESP2 form), with the given port and ip/endpoint.</summary>
    private static RespValue Master(string id, int port) => RespValue.Array(
        RespValue.Bulk("id"), RespValue.Bulk(id),
        RespValue.Bulk("port"), RespValue.Int(port),
        RespValue.Bulk("ip"), RespValue.Bulk(port >= 7600 ? "127.0.0.1" : FakeGateway.Host),
        RespValue.Bulk("endpoint"), RespValue.Bulk(port >= 7600 ? "127.0.0.1" : FakeGateway.Host),
        RespValue.Bulk("role"), RespValue.Bulk("master"),
        RespValue.Bulk("replication-offset"), RespValue.Int(0),
        RespValue.Bulk("health"), RespValue.Bulk("online"));

    private static NodeEndpoint Announced(int port) => new("127.0.0.1", port);
}
