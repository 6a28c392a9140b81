using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace ClusterGate.Core.UnitTests.Topology;

/// <summary>Single <c>CLUSTER NODES</c> lines written by hand for the forms the lab captures do not show.</summary>
public sealed class ClusterNodesParserLineTests
{
    private const string Id = "07c37dfeb235213a872192d90877d0cd55635b91";
    private const string Peer = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";

    [Fact]
    public void TryParseLine_PlainMaster_ReadsEveryField()
    {
        var ok = ClusterNodesParser.TryParseLine($"{Id} 10.0.0.5:6379@16379 master - 1426238317239 1426238316232 12 connected 0-100 200 300-301", out var node);

        Assert.True(ok);
        Assert.NotNull(node);
        Assert.Equal(Id, node.Id);
        Assert.Equal("10.0.0.5", node.Ip);
        Assert.Equal(6379, node.Port);
        Assert.Equal(16379, node.BusPort);
        Assert.Null(node.Hostname);
        Assert.Equal(ClusterNodeFlags.Master, node.Flags);
        Assert.Null(node.MasterId);
        Assert.Equal(1426238317239, node.PingSentMs);
        Assert.Equal(1426238316232, node.PongReceivedMs);
        Assert.Equal(12, node.ConfigEpoch);
        Assert.True(node.LinkConnected);
        Assert.Equal([new SlotRange(0, 100), new SlotRange(200, 200), new SlotRange(300, 301)], node.Slots);
        Assert.Empty(node.Migrations);
    }

    [Fact]
    public void TryParseLine_MasterWithoutSlots_HasEmptySlotList()
    {
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} 127.0.0.1:7006@17006 master - 0 1700000000000 0 connected", out var node));

        Assert.True(node.IsMaster);
        Assert.False(node.IsUnhealthy);
        Assert.Empty(node.Slots);
        Assert.Empty(node.Migrations);
    }

    [Theory]
    [InlineData("::1:7000@17000", "::1", 7000, 17000)]
    [InlineData("[::1]:7000@17000", "::1", 7000, 17000)]
    [InlineData("2001:db8::7:7001@17001", "2001:db8::7", 7001, 17001)]
    [InlineData("[2001:db8::7]:7001@17001", "2001:db8::7", 7001, 17001)]
    [InlineData("fe80::1%eth0:6379@16379", "fe80::1%eth0", 6379, 16379)]
    public void TryParseLine_Ipv6Address_SplitsPortAtLastColon(string address, string ip, int port, int busPort)
    {
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} {address} master - 0 0 1 connected 0-100", out var node));

        Assert.Equal(ip, node.Ip);
        Assert.Equal(port, node.Port);
        Assert.Equal(busPort, node.BusPort);
        Assert.Equal(new NodeEndpoint(ip, port), node.Endpoint);
        Assert.Equal($"[{ip}]:{port}", node.Endpoint.ToString());
    }

    [Fact]
    public void TryParseLine_NoAddress_EmptyIpPortZeroAndUnhealthy()
    {
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} :0@0 master,fail,noaddr - 1700000000000 1699999999000 4 disconnected", out var node));

        Assert.Equal(string.Empty, node.Ip);
        Assert.Equal(0, node.Port);
        Assert.Equal(0, node.BusPort);
        Assert.Null(node.Hostname);
        Assert.Equal(ClusterNodeFlags.Master | ClusterNodeFlags.Failed | ClusterNodeFlags.NoAddress, node.Flags);
        Assert.True(node.IsUnhealthy);
        Assert.False(node.LinkConnected);
        Assert.Equal(new NodeEndpoint(string.Empty, 0), node.Endpoint);
    }

    [Fact]
    public void TryParseLine_Handshake_OnlyHandshakeFlagAndRandomId()
    {
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} 127.0.0.1:7010@17010 handshake - 1700000000000 0 0 disconnected", out var node));

        Assert.Equal(ClusterNodeFlags.Handshake, node.Flags);
        Assert.False(node.IsMaster);
        Assert.False(node.IsReplica);
        Assert.True(node.IsUnhealthy);
        Assert.Null(node.MasterId);
    }

    [Theory]
    [InlineData("myself,slave", ClusterNodeFlags.Myself | ClusterNodeFlags.Replica)]
    [InlineData("slave,nofailover", ClusterNodeFlags.Replica | ClusterNodeFlags.NoFailover)]
    [InlineData("slave,fail?", ClusterNodeFlags.Replica | ClusterNodeFlags.PossiblyFailed)]
    [InlineData("noflags", ClusterNodeFlags.NoFlags)]
    [InlineData("master,some-future-flag", ClusterNodeFlags.Master)]
    [InlineData("whatever", ClusterNodeFlags.None)]
    public void TryParseLine_Flags_MapsKnownAndIgnoresUnknown(string flags, ClusterNodeFlags expected)
    {
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} 127.0.0.1:7003@17003 {flags} {Peer} 0 1700000000000 2 connected", out var node));

        Assert.Equal(expected, node.Flags);
        Assert.Equal(Peer, node.MasterId);
    }

    [Theory]
    [InlineData("127.0.0.1:7000@17000,node-a.example", "127.0.0.1", "node-a.example")]
    [InlineData(":7000@17000,node-a.example", "", "node-a.example")]
    [InlineData("127.0.0.1:7000@17000,", "127.0.0.1", null)]
    [InlineData("127.0.0.1:7000@17000,node-a.example,shard-id=4f1a9b", "127.0.0.1", "node-a.example")]
    [InlineData("127.0.0.1:7000@17000,,shard-id=4f1a9b,tls-port=0", "127.0.0.1", null)]
    [InlineData("127.0.0.1:7000@17000,hostname=node-b.example,shard-id=4f1a9b", "127.0.0.1", "node-b.example")]
    [InlineData("127.0.0.1:7000@17000,shard-id=4f1a9b,hostname=node-b.example,nodename=b", "127.0.0.1", "node-b.example")]
    [InlineData(":7000@17000,,hostname=node-c.example", "", "node-c.example")]
    [InlineData("127.0.0.1:7000@17000,,hostname=", "127.0.0.1", null)]
    public void TryParseLine_HostnameAndAuxFields_TakesHostnameIgnoresRest(string address, string ip, string? hostname)
    {
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} {address} master - 0 0 1 connected 0-16383", out var node));

        Assert.Equal(ip, node.Ip);
        Assert.Equal(7000, node.Port);
        Assert.Equal(17000, node.BusPort);
        Assert.Equal(hostname, node.Hostname);
    }

    [Fact]
    public void TryParseLine_NoBusPort_AcceptedWithBusPortZero()
    {
        // Pre-4.0 servers printed ip:port only.
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} 127.0.0.1:7000 master - 0 0 1 connected 0-16383", out var node));

        Assert.Equal(7000, node.Port);
        Assert.Equal(0, node.BusPort);
    }

    [Fact]
    public void TryParseLine_MigratingAndImportingOnOneLine_ReadsBothWithPeers()
    {
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} 127.0.0.1:7000@17000 myself,master - 0 0 5 connected 0-99 [42->-{Peer}] [16383-<-{Peer}]", out var node));

        Assert.Equal([new SlotRange(0, 99)], node.Slots);
        Assert.Equal([new SlotMigration(42, Importing: false, Peer), new SlotMigration(16383, Importing: true, Peer)], node.Migrations);
    }

    [Fact]
    public void TryParseLine_TrailingCarriageReturnWithoutSlots_LinkStateStillRead()
    {
        Assert.True(ClusterNodesParser.TryParseLine($"{Id} 127.0.0.1:7000@17000 slave {Peer} 0 0 5 connected\r", out var node));

        Assert.True(node.LinkConnected);
        Assert.Empty(node.Slots);
    }

    [Fact]
    public void TryParseLine_ExtraSpaces_Tolerated()
    {
        Assert.True(ClusterNodesParser.TryParseLine($"  {Id}  127.0.0.1:7000@17000 master  - 0 0 5 connected  0-10 ", out var node));

        Assert.Equal(Id, node.Id);
        Assert.Equal([new SlotRange(0, 10)], node.Slots);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\r")]
    [InlineData("garbage")]
    [InlineData("$739")]
    [InlineData("-ERR This instance has cluster support disabled")]
    [InlineData("-MOVED 12182 127.0.0.1:7602")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - x 0 1 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 1e3 1 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 -1 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 99999999999999999999 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 maybe")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1@17000 master - 0 0 1 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:port@17000 master - 0 0 1 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:70000@17000 master - 0 0 1 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@ master - 0 0 1 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:-7000@17000 master - 0 0 1 connected")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 16384")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16384")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 5-3")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 0-")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected -5")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected abc")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 0-10 [0->-]")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 0-10 [0-x-abc]")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 0-10 [0->-abc")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 0-10 [x->-abc]")]
    [InlineData("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:7000@17000 master - 0 0 1 connected 0-10 [")]
    public void TryParseLine_JunkOrMalformed_ReturnsFalseWithNullNode(string line)
    {
        var ok = ClusterNodesParser.TryParseLine(line, out var node);

        Assert.False(ok);
        Assert.Null(node);
    }

    [Fact]
    public void TryParseLine_Null_ReturnsFalse()
    {
        Assert.False(ClusterNodesParser.TryParseLine(null!, out var node));
        Assert.Null(node);
    }

    [Fact]
    public void Parse_JunkLinesBetweenGoodOnes_SkipsOnlyTheJunk()
    {
        var text = $"""

            {Id} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191
            this line is junk
            {Peer} 127.0.0.1:7001@17001 master - 0 0 2 connected 8192-16383 99999

            {Peer} 127.0.0.1:7001@17001 master - 0 0 2 connected 8192-16383
            {Id} 127.0.0.1:7000@17000 master -
            """;

        var nodes = ClusterNodesParser.Parse(text);

        Assert.Equal(2, nodes.Count);
        Assert.Equal([new SlotRange(0, 8191)], nodes[0].Slots);
        Assert.Equal([new SlotRange(8192, 16383)], nodes[1].Slots);
    }

    [Fact]
    public void Parse_CrlfLineEnds_SameAsLf()
    {
        var lf = $"{Id} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191\n{Peer} 127.0.0.1:7001@17001 slave {Id} 0 0 1 connected\n";
        var crlf = lf.Replace("\n", "\r\n", StringComparison.Ordinal);

        var fromLf = ClusterNodesParser.Parse(lf);
        var fromCrlf = ClusterNodesParser.Parse(crlf);

        Assert.Equal(2, fromCrlf.Count);
        Assert.Equal(fromLf.Select(n => (n.Id, n.Flags, n.MasterId, n.LinkConnected, n.ConfigEpoch)), fromCrlf.Select(n => (n.Id, n.Flags, n.MasterId, n.LinkConnected, n.ConfigEpoch)));
        Assert.True(fromCrlf[1].LinkConnected);
        Assert.Equal([new SlotRange(0, 8191)], fromCrlf[0].Slots);
    }

    [Fact]
    public void Parse_TruncatedLastLine_KeepsCompleteLines()
    {
        // A reply cut in the middle of the fixed fields: the cut line is dropped, the others kept.
        var text = $"{Id} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191\n{Peer} 127.0.0.1:7001@17001 master - 0 17000";

        var node = Assert.Single(ClusterNodesParser.Parse(text));

        Assert.Equal(Id, node.Id);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("\n\n\r\n")]
    public void Parse_NothingUsable_ReturnsEmpty(string? text)
    {
        Assert.Empty(ClusterNodesParser.Parse(text!));
    }

    [Fact]
    public void TryParseLine_ArbitraryText_NeverThrows()
    {
        Prop.ForAll<string>(line =>
        {
            var ok = ClusterNodesParser.TryParseLine(line, out var node);
            return ok == (node is not null);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void TryParseLine_MutatedValidLine_NeverThrows()
    {
        const string Valid = "0dadd00222a5e46e239a5a86623edce37e668763 [::1]:7600@7700,h,hostname=x myself,master,fail? - 0 1795315424000 1 connected 0-5460 7000 [0->-3fb23e08c6ed28debc8b74273a8a06620b613445]";
        Prop.ForAll<int, char>((position, replacement) =>
        {
            var chars = Valid.ToCharArray();
            chars[(int)((uint)position % (uint)chars.Length)] = replacement;
            var ok = ClusterNodesParser.TryParseLine(new string(chars), out var node);
            return ok == (node is not null);
        }).QuickCheckThrowOnFailure();
    }
}
