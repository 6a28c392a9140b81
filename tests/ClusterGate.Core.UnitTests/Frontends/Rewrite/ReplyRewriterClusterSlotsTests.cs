using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;
using Xunit;
using static ClusterGate.Core.UnitTests.Frontends.Rewrite.Lab;

namespace ClusterGate.Core.UnitTests.Frontends.Rewrite;

public sealed class ReplyRewriterClusterSlotsTests
{
    public static TheoryData<string, string[]> Captures => new()
    {
        { "cluster-slots.healthy.resp", [A, B, C] },
        { "cluster-slots.healthy.resp3", [A, B, C] },
        { "cluster-slots.after-promotion.resp", [F, B, C] },
        { "cluster-slots.with-hostname.resp", [H] },
    };

    [Fact]
    public void RewriteClusterSlots_Healthy_NamesGatewayEndpointsWithEmptyMetadata()
    {
        var gateway = new FakeGateway(A, B, C);

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(Wire.ReadCapture("cluster-slots.healthy.resp"), gateway.Map);

        Assert.Equal(
            RespValue.Array(
                Range(0, 5460, Node(7100, A, RespValue.Array())),
                Range(5461, 10922, Node(7101, B, RespValue.Array())),
                Range(10923, 16383, Node(7102, C, RespValue.Array()))),
            rewritten);
        Assert.Equal([(A, Announced(7600)), (B, Announced(7601)), (C, Announced(7602))], gateway.Calls);
    }

    [Fact]
    public void RewriteClusterSlots_Resp3_MetadataStaysAMap()
    {
        var gateway = new FakeGateway(A, B, C);

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(Wire.ReadCapture("cluster-slots.healthy.resp3"), gateway.Map);

        Assert.Equal(
            RespValue.Array(
                Range(0, 5460, Node(7100, A, RespValue.Map())),
                Range(5461, 10922, Node(7101, B, RespValue.Map())),
                Range(10923, 16383, Node(7102, C, RespValue.Map()))),
            rewritten);
    }

    [Fact]
    public void RewriteClusterSlots_AfterPromotion_RemovesReplicas()
    {
        var gateway = new FakeGateway(F, B, C);

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(Wire.ReadCapture("cluster-slots.after-promotion.resp"), gateway.Map);

        Assert.Equal(
            RespValue.Array(
                Range(0, 5460, Node(7100, F, RespValue.Array())),
                Range(5461, 10922, Node(7101, B, RespValue.Array())),
                Range(10923, 16383, Node(7102, C, RespValue.Array()))),
            rewritten);
        Assert.Contains((D, Announced(7603)), gateway.Calls);
        Assert.Contains((E, Announced(7604)), gateway.Calls);
    }

    [Fact]
    public void RewriteClusterSlots_ReplicaMapped_KeepsItAfterItsMaster()
    {
        var gateway = new FakeGateway(F, B, C, D);

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(Wire.ReadCapture("cluster-slots.after-promotion.resp"), gateway.Map);

        Assert.Equal(Range(5461, 10922, Node(7101, B, RespValue.Array()), Node(7103, D, RespValue.Array())), rewritten.Items[1]);
    }

    [Fact]
    public void RewriteClusterSlots_MasterRemoved_RemovesItsWholeRange()
    {
        // D is B's replica: mapped, but without B the range has no master, so it goes too.
        var gateway = new FakeGateway(F, C, D);

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(Wire.ReadCapture("cluster-slots.after-promotion.resp"), gateway.Map);

        Assert.Equal(
            RespValue.Array(
                Range(0, 5460, Node(7100, F, RespValue.Array())),
                Range(10923, 16383, Node(7101, C, RespValue.Array()))),
            rewritten);
    }

    [Fact]
    public void RewriteClusterSlots_HostnameOnly_MapsByHostnameAndEmptiesMetadata()
    {
        var gateway = new FakeGateway(H);

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(Wire.ReadCapture("cluster-slots.with-hostname.resp"), gateway.Map);

        Assert.Equal([(H, new NodeEndpoint("node-a.example", 7690))], gateway.Calls);
        Assert.Equal(RespValue.Array(Range(0, 16383, Node(7100, H, RespValue.Array()))), rewritten);
    }

    [Fact]
    public void RewriteClusterSlots_UnknownEndpoint_MapsByMetadataIp()
    {
        var gateway = new FakeGateway(A);
        RespValue reply = RespValue.Array(Range(0, 16383,
            RespValue.Array(RespValue.Bulk("?"), RespValue.Int(7000), RespValue.Bulk(A), RespValue.Map(RespValue.Bulk("ip"), RespValue.Bulk("10.9.9.9")))));

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(reply, gateway.Map);

        Assert.Equal([(A, new NodeEndpoint("10.9.9.9", 7000))], gateway.Calls);
        Assert.Equal(RespValue.Array(Range(0, 16383, Node(7100, A, RespValue.Map()))), rewritten);
    }

    [Fact]
    public void RewriteClusterSlots_OlderNodeForms_KeepTheirElementCount()
    {
        // Redis 4-6 send [ip, port, id]; Redis 3.0 sent [ip, port] and no id.
        var gateway = new FakeGateway(A);
        NodeEndpoint? Map(string? id, NodeEndpoint announced) => id is null ? FakeGateway.Port(5) : gateway.Map(id, announced);
        RespValue reply = RespValue.Array(
            Range(0, 100, RespValue.Array(RespValue.Bulk("127.0.0.1"), RespValue.Int(7600), RespValue.Bulk(A))),
            Range(101, 200, RespValue.Array(RespValue.Bulk("127.0.0.1"), RespValue.Int(7601))));

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(reply, Map);

        Assert.Equal(
            RespValue.Array(
                Range(0, 100, RespValue.Array(RespValue.Bulk(FakeGateway.Host), RespValue.Int(7100), RespValue.Bulk(A))),
                Range(101, 200, RespValue.Array(RespValue.Bulk(FakeGateway.Host), RespValue.Int(7105)))),
            rewritten);
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void RewriteClusterSlots_Capture_KeepsExposedMastersRangesAndReparses(string capture, string[] exposed)
    {
        var gateway = new FakeGateway(exposed);
        RespValue reply = Wire.ReadCapture(capture);

        RespValue rewritten = ReplyRewriter.RewriteClusterSlots(reply, gateway.Map);

        AssertNoNodeAddress(Wire.AssertRoundTrips(rewritten));
        Assert.Equal(reply.Items.Count, rewritten.Items.Count);
        for (int i = 0; i < reply.Items.Count; i++)
        {
            RespValue before = reply.Items[i];
            RespValue after = rewritten.Items[i];
            Assert.Equal((before.Items[0], before.Items[1]), (after.Items[0], after.Items[1]));
            RespValue master = Assert.Single(after.Items.Skip(2));
            Assert.Equal(before.Items[2].Items[2], master.Items[2]);
            int index = Array.IndexOf(exposed, master.Items[2].AsString());
            Assert.Equal(RespValue.Bulk(FakeGateway.Host), master.Items[0]);
            Assert.Equal(RespValue.Int(FakeGateway.Port(index).Port), master.Items[1]);
            Assert.Equal(before.Items[2].Items[3].Type, master.Items[3].Type);
            Assert.Empty(master.Items[3].Items);
        }
    }

    [Fact]
    public void RewriteClusterSlots_UnexpectedShape_ReturnsReplyUnchanged()
    {
        var gateway = new FakeGateway(A);
        RespValue node = Node(7600, A, RespValue.Array());
        RespValue[] replies =
        [
            RespValue.Error("ERR This instance has cluster support disabled"),
            RespValue.NullArray,
            RespValue.Bulk("slots"),
            RespValue.Array(RespValue.Bulk("x")),
            RespValue.Array(RespValue.Array(RespValue.Int(0), RespValue.Int(1))),
            RespValue.Array(RespValue.Array(RespValue.Bulk("0"), RespValue.Int(1), node)),
            RespValue.Array(Range(0, 1, RespValue.Array(RespValue.Bulk("127.0.0.1"), RespValue.Bulk("7600")))),
            RespValue.Array(Range(0, 1, RespValue.Array(RespValue.Bulk("127.0.0.1"), RespValue.Int(70000)))),
            RespValue.Array(Range(0, 1, RespValue.Array(RespValue.Bulk("127.0.0.1")))),
            RespValue.Array(Range(0, 1, RespValue.Array(RespValue.NullBulk, RespValue.Int(7600), RespValue.Bulk(A)))),
            RespValue.Array(Range(0, 1, RespValue.Array(RespValue.Bulk("127.0.0.1"), RespValue.Int(7600), RespValue.Int(1)))),
            RespValue.Array(Range(0, 1, RespValue.Array(RespValue.Bulk("127.0.0.1"), RespValue.Int(7600), RespValue.Bulk(A), RespValue.Int(0)))),
            RespValue.Array(Range(0, 1, node), RespValue.Int(5)),
        ];

        foreach (RespValue reply in replies)
        {
            Assert.Same(reply, ReplyRewriter.RewriteClusterSlots(reply, gateway.Map));
        }
    }

    private static RespValue Range(int start, int end, params RespValue[] nodes) =>
        RespValue.Array([RespValue.Int(start), RespValue.Int(end), .. nodes]);

    private static RespValue Node(int port, string id, RespValue metadata) =>
        RespValue.Array(RespValue.Bulk(port >= 7600 ? "127.0.0.1" : FakeGateway.Host), RespValue.Int(port), RespValue.Bulk(id), metadata);

    private static NodeEndpoint Announced(int port) => new("127.0.0.1", port);
}
