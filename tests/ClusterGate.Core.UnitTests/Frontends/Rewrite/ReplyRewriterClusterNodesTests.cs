using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;
using Xunit;
using static ClusterGate.Core.UnitTests.Frontends.Rewrite.Lab;

namespace ClusterGate.Core.UnitTests.Frontends.Rewrite;

public sealed class ReplyRewriterClusterNodesTests
{
    public static TheoryData<string, string[]> Captures => new()
    {
        { "cluster-nodes.healthy.resp", [A, B, C] },
        { "cluster-nodes.master-pfail.resp", [A, B, C] },
        { "cluster-nodes.after-promotion.resp", [F, B, C] },
        { "cluster-nodes.migrating-slot0.from-source.resp", [A, B, C] },
        { "cluster-nodes.migrating-slot0.from-target.resp", [A, B, C] },
        { "cluster-nodes.old-master-rejoined-as-replica.resp", [F, B, C] },
        { "cluster-nodes.with-hostname.resp", [H] },
    };

    [Fact]
    public void RewriteClusterNodes_Healthy_KeepsMastersAtGatewayAddresses()
    {
        var gateway = new FakeGateway(A, B, C);

        RespValue rewritten = ReplyRewriter.RewriteClusterNodes(Wire.ReadCapture("cluster-nodes.healthy.resp"), gateway.Map);

        Assert.Equal(RespType.BulkString, rewritten.Type);
        Assert.Equal(
            "3fb23e08c6ed28debc8b74273a8a06620b613445 10.0.0.1:7101@7101 master - 0 1795315425075 2 connected 5461-10922\n"
            + "c7cb87412e01e9ddfe18900d2932957274b925ec 10.0.0.1:7102@7102 master - 0 1795315425075 3 connected 10923-16383\n"
            + "0dadd00222a5e46e239a5a86623edce37e668763 10.0.0.1:7100@7100 myself,master - 0 1795315424000 1 connected 0-5460\n",
            rewritten.AsString());
    }

    [Fact]
    public void RewriteClusterNodes_Healthy_MapGetsEveryIdWithItsAnnouncedEndpoint()
    {
        var gateway = new FakeGateway(A, B, C);

        _ = ReplyRewriter.RewriteClusterNodes(Wire.ReadCapture("cluster-nodes.healthy.resp"), gateway.Map);

        Assert.Equal(
            [(F, Announced(7605)), (B, Announced(7601)), (D, Announced(7603)), (E, Announced(7604)), (C, Announced(7602)), (A, Announced(7600))],
            gateway.Calls);
    }

    [Fact]
    public void RewriteClusterNodes_Migrating_KeepsMigrationMarkers()
    {
        var gateway = new FakeGateway(A, B, C);

        string source = ReplyRewriter.RewriteClusterNodes(Wire.ReadCapture("cluster-nodes.migrating-slot0.from-source.resp"), gateway.Map).AsString();
        string target = ReplyRewriter.RewriteClusterNodes(Wire.ReadCapture("cluster-nodes.migrating-slot0.from-target.resp"), gateway.Map).AsString();

        Assert.Contains(
            "0dadd00222a5e46e239a5a86623edce37e668763 10.0.0.1:7100@7100 myself,master - 0 1795315433000 1 connected 0-5460 [0->-3fb23e08c6ed28debc8b74273a8a06620b613445]\n",
            source, StringComparison.Ordinal);
        Assert.Contains(
            "3fb23e08c6ed28debc8b74273a8a06620b613445 10.0.0.1:7101@7101 myself,master - 0 1795315433000 2 connected 5461-10922 [0-<-0dadd00222a5e46e239a5a86623edce37e668763]\n",
            target, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void RewriteClusterNodes_Capture_LeavesOnlyExposedNodesWithEverythingButTheAddressIntact(string capture, string[] exposed)
    {
        var gateway = new FakeGateway(exposed);
        RespValue reply = Wire.ReadCapture(capture);
        IReadOnlyList<ClusterNodeInfo> before = ClusterNodesParser.Parse(reply.AsString());

        RespValue rewritten = ReplyRewriter.RewriteClusterNodes(reply, gateway.Map);

        byte[] wire = Wire.AssertRoundTrips(rewritten);
        AssertNoNodeAddress(wire);
        Assert.Equal(RespType.BulkString, rewritten.Type);
        string text = rewritten.AsString();
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\n\n", text, StringComparison.Ordinal);
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        IReadOnlyList<ClusterNodeInfo> after = ClusterNodesParser.Parse(text);
        Assert.Equal(lines.Length, after.Count);
        Assert.Equal(exposed.Order(StringComparer.Ordinal), after.Select(n => n.Id).Order(StringComparer.Ordinal));
        foreach (ClusterNodeInfo node in after)
        {
            ClusterNodeInfo original = Assert.Single(before, n => n.Id == node.Id);
            Assert.Equal(FakeGateway.Port(Array.IndexOf(exposed, node.Id)), node.Endpoint);
            Assert.Null(node.Hostname);
            Assert.Equal(original.BusPort == 0 ? 0 : node.Port, node.BusPort);
            Assert.Equal(original.Flags, node.Flags);
            Assert.Equal(original.MasterId, node.MasterId);
            Assert.Equal((original.PingSentMs, original.PongReceivedMs, original.ConfigEpoch), (node.PingSentMs, node.PongReceivedMs, node.ConfigEpoch));
            Assert.Equal(original.LinkConnected, node.LinkConnected);
            Assert.Equal(original.Slots, node.Slots);
            Assert.Equal(original.Migrations, node.Migrations);
        }
    }

    [Fact]
    public void RewriteClusterNodes_HostnameOnly_MapsByHostnameAndDropsIt()
    {
        var gateway = new FakeGateway(H);

        RespValue rewritten = ReplyRewriter.RewriteClusterNodes(Wire.ReadCapture("cluster-nodes.with-hostname.resp"), gateway.Map);

        Assert.Equal([(H, new NodeEndpoint("node-a.example", 7690))], gateway.Calls);
        Assert.Equal(
            "3a4a0a79cf150ff88b1ca2bd2bd76cb990eee1a7 10.0.0.1:7100@7100 myself,master - 0 0 0 connected 0-16383\n",
            rewritten.AsString());
    }

    [Fact]
    public void RewriteClusterNodes_Redis72AuxFields_DropsThem()
    {
        var gateway = new FakeGateway(A);
        RespValue reply = RespValue.Bulk(
            "0dadd00222a5e46e239a5a86623edce37e668763 127.0.0.1:7600@7700,,tls-port=0,shard-id=8a7c myself,master - 0 0 1 connected 0-16383\n");

        RespValue rewritten = ReplyRewriter.RewriteClusterNodes(reply, gateway.Map);

        Assert.Equal(
            "0dadd00222a5e46e239a5a86623edce37e668763 10.0.0.1:7100@7100 myself,master - 0 0 1 connected 0-16383\n",
            rewritten.AsString());
    }

    [Fact]
    public void RewriteClusterNodes_Verbatim_StaysVerbatimWithItsFormat()
    {
        var gateway = new FakeGateway(A, B, C);
        string healthy = Wire.ReadCapture("cluster-nodes.healthy.resp").AsString();
        string expected = ReplyRewriter.RewriteClusterNodes(RespValue.Bulk(healthy), new FakeGateway(A, B, C).Map).AsString();

        RespValue rewritten = ReplyRewriter.RewriteClusterNodes(RespValue.Verbatim("txt", healthy), gateway.Map);

        Assert.Equal(RespValue.Verbatim("txt", expected), rewritten);
        AssertNoNodeAddress(Wire.AssertRoundTrips(rewritten));
    }

    [Fact]
    public void RewriteClusterNodes_JunkLines_DropsThem()
    {
        var gateway = new FakeGateway(A);
        RespValue reply = RespValue.Bulk(
            "garbage\n"
            + "\n"
            + "0dadd00222a5e46e239a5a86623edce37e668763 127.0.0.1:7600@7700 myself,master - 0 0 1 connected 0-16383\n"
            + "0dadd00222a5e46e239a5a86623edce37e668763 127.0.0.1:7600@7700 myself,master - 0 0 1 connected 99999\n"
            + "0dadd00222a5e46e239a5a86623edce37e668763 127.0.0.1:port@7700 myself,master - 0 0 1 connected\n"
            + "0dadd00222a5e46e239a5a86623edce37e668763 127.0.0.1:7600@7700 myself,master");

        RespValue rewritten = ReplyRewriter.RewriteClusterNodes(reply, gateway.Map);

        Assert.Equal(
            "0dadd00222a5e46e239a5a86623edce37e668763 10.0.0.1:7100@7100 myself,master - 0 0 1 connected 0-16383\n",
            rewritten.AsString());
    }

    [Fact]
    public void RewriteClusterNodes_NoNodeExposed_ReturnsEmptyText()
    {
        RespValue rewritten = ReplyRewriter.RewriteClusterNodes(Wire.ReadCapture("cluster-nodes.healthy.resp"), new FakeGateway().Map);

        Assert.Equal(RespValue.Bulk(string.Empty), rewritten);
    }

    [Fact]
    public void RewriteClusterNodes_NotText_ReturnsReplyUnchanged()
    {
        var gateway = new FakeGateway(A);
        RespValue[] replies =
        [
            RespValue.Error("ERR This instance has cluster support disabled"),
            RespValue.NullBulk,
            RespValue.Int(1),
            RespValue.Array(RespValue.Bulk("0dadd00222a5e46e239a5a86623edce37e668763 127.0.0.1:7600@7700 master - 0 0 1 connected")),
        ];

        foreach (RespValue reply in replies)
        {
            Assert.Same(reply, ReplyRewriter.RewriteClusterNodes(reply, gateway.Map));
        }

        Assert.Empty(gateway.Calls);
    }

    private static NodeEndpoint Announced(int port) => new("127.0.0.1", port);
}
