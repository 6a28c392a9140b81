using ClusterGate.Core.Topology;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace ClusterGate.Core.UnitTests.Topology;

public sealed class InfoReplicationParserTests
{
    [Fact]
    public void Parse_MasterWithOneReplica_ReadsRoleAndSlave0()
    {
        var info = Parse("info-replication.master.resp");

        Assert.Equal(ReplicationRole.Master, info.Role);
        Assert.Equal(1, info.ConnectedReplicas);
        // Captured during the replica's first sync: wait_bgsave, not online yet.
        Assert.Equal([new ReplicaLink("127.0.0.1", 7605, "wait_bgsave", 0, 0)], info.Replicas);
        Assert.Equal("fd6cddb007bd9c4c67df84c6e93f4fdff1439736", info.ReplicationId);
        Assert.Equal(0, info.MasterReplicationOffset);
        Assert.Null(info.MasterHost);
        Assert.Equal(0, info.MasterPort);
        Assert.False(info.MasterLinkUp);
        Assert.Equal(-1, info.MasterLastIoSecondsAgo);
    }

    [Fact]
    public void Parse_ReplicaCapture_ReadsMasterAddressAndLinkState()
    {
        var info = Parse("info-replication.replica.resp");

        Assert.Equal(ReplicationRole.Replica, info.Role);
        Assert.Equal("127.0.0.1", info.MasterHost);
        Assert.Equal(7601, info.MasterPort);
        // The capture was taken before the first sync completed: the link is still reported down.
        Assert.False(info.MasterLinkUp);
        Assert.Equal(-1, info.MasterLastIoSecondsAgo);
        Assert.Equal(0, info.ReplicaReplicationOffset);
        Assert.Equal(0, info.MasterReplicationOffset);
        Assert.Equal("a527ec60405ef025cd6dd4d243b9dd385e213945", info.ReplicationId);
        Assert.Equal(0, info.ConnectedReplicas);
        Assert.Empty(info.Replicas);
    }

    [Fact]
    public void Parse_ReplicaWhoseMasterCrashed_LinkDownWithLastOffset()
    {
        var info = Parse("info-replication.replica.master-down.resp");

        Assert.Equal(ReplicationRole.Replica, info.Role);
        Assert.Equal("127.0.0.1", info.MasterHost);
        Assert.Equal(7600, info.MasterPort);
        Assert.False(info.MasterLinkUp);
        Assert.Equal(-1, info.MasterLastIoSecondsAgo);
        Assert.Equal(28, info.ReplicaReplicationOffset);
        Assert.Equal(28, info.MasterReplicationOffset);
        // Still the crashed master's replication id: the replica has not been promoted yet.
        Assert.Equal("fd6cddb007bd9c4c67df84c6e93f4fdff1439736", info.ReplicationId);
        Assert.Empty(info.Replicas);
    }

    [Fact]
    public void Parse_PromotedMasterWithoutReplica_MasterWithNoReplicas()
    {
        var info = Parse("info-replication.promoted-master-no-replica.resp");

        Assert.Equal(ReplicationRole.Master, info.Role);
        Assert.Equal(0, info.ConnectedReplicas);
        Assert.Empty(info.Replicas);
        Assert.Equal("9b1ae3ec00d9b0f1462099263b4bb9c8c624a604", info.ReplicationId);
        Assert.Equal(28, info.MasterReplicationOffset);
        Assert.Null(info.MasterHost);
    }

    [Fact]
    public void Parse_OldMasterNowReplica_FollowsPromotedNode()
    {
        var info = Parse("info-replication.old-master-now-replica.resp");

        Assert.Equal(ReplicationRole.Replica, info.Role);
        Assert.Equal("127.0.0.1", info.MasterHost);
        Assert.Equal(7605, info.MasterPort);
        Assert.False(info.MasterLinkUp);
        Assert.Equal(-1, info.MasterLastIoSecondsAgo);
        Assert.Equal(0, info.ReplicaReplicationOffset);
        Assert.Equal("c6d5e45aeff6ad324d4fbd6178a0f3cf1aa1846b", info.ReplicationId);
    }

    [Fact]
    public void Parse_ReplicaLinkUpWithLf_ReadsLastIo()
    {
        const string Text = "# Replication\nrole:slave\nmaster_host:10.0.0.7\nmaster_port:6380\nmaster_link_status:up\nmaster_last_io_seconds_ago:3\nslave_repl_offset:1234\nmaster_replid:abc\nmaster_repl_offset:1240\n";

        var info = InfoReplicationParser.Parse(Text);

        Assert.Equal(ReplicationRole.Replica, info.Role);
        Assert.Equal("10.0.0.7", info.MasterHost);
        Assert.Equal(6380, info.MasterPort);
        Assert.True(info.MasterLinkUp);
        Assert.Equal(3, info.MasterLastIoSecondsAgo);
        Assert.Equal(1234, info.ReplicaReplicationOffset);
        Assert.Equal(1240, info.MasterReplicationOffset);
        Assert.Equal("abc", info.ReplicationId);
    }

    [Fact]
    public void Parse_MasterWithTwoOnlineReplicas_ReadsBothInOrder()
    {
        const string Text = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"
            + "slave0:ip=127.0.0.1,port=7603,state=online,offset=5120,lag=0\r\n"
            + "slave1:ip=::1,port=7604,state=online,offset=5100,lag=1,extra=x\r\n"
            + "slave_read_only:1\r\nslave_priority:100\r\nmaster_repl_offset:5120\r\n";

        var info = InfoReplicationParser.Parse(Text);

        Assert.Equal(ReplicationRole.Master, info.Role);
        Assert.Equal(2, info.ConnectedReplicas);
        Assert.Equal(
            [new ReplicaLink("127.0.0.1", 7603, "online", 5120, 0), new ReplicaLink("::1", 7604, "online", 5100, 1)],
            info.Replicas);
        Assert.Equal(5120, info.MasterReplicationOffset);
    }

    [Theory]
    [InlineData("role:sentinel")]
    [InlineData("role:")]
    [InlineData("# Replication\r\n")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("-ERR unknown command")]
    public void Parse_NoKnownRole_Unknown(string? text)
    {
        var info = InfoReplicationParser.Parse(text!);

        Assert.Equal(ReplicationRole.Unknown, info.Role);
        Assert.Empty(info.Replicas);
        Assert.Equal(-1, info.MasterLastIoSecondsAgo);
    }

    [Fact]
    public void Parse_GarbledValues_KeepDefaultsAndSkipBadReplicaLines()
    {
        const string Text = "role:slave\nmaster_port:sixty\nmaster_last_io_seconds_ago:\nslave_repl_offset:1x\n"
            + "slave0:port=7000\nslave1:ip=127.0.0.1,port=abc\nslave2:garbage\nslave3:ip=127.0.0.1,port=7001,offset=zz\n"
            + ":novalue\nnocolon\nmaster_link_status:UP\n";

        var info = InfoReplicationParser.Parse(Text);

        Assert.Equal(ReplicationRole.Replica, info.Role);
        Assert.Equal(0, info.MasterPort);
        Assert.Equal(-1, info.MasterLastIoSecondsAgo);
        Assert.Equal(0, info.ReplicaReplicationOffset);
        Assert.False(info.MasterLinkUp);
        Assert.Equal([new ReplicaLink("127.0.0.1", 7001, string.Empty, 0, 0)], info.Replicas);
    }

    [Fact]
    public void Parse_ArbitraryText_NeverThrows()
    {
        Prop.ForAll<string>(text => InfoReplicationParser.Parse(text) is not null).QuickCheckThrowOnFailure();
    }

    private static ReplicationInfo Parse(string capture) =>
        InfoReplicationParser.Parse(CaptureFiles.ReadBulkText(capture));
}
