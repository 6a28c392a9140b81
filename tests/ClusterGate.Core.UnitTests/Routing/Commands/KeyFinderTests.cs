using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using Xunit;

namespace ClusterGate.Core.UnitTests.Routing.Commands;

public sealed class KeyFinderTests
{
    [Theory]
    [InlineData("GET k", new[] { 1 })]
    [InlineData("SET k v EX 10 NX", new[] { 1 })]
    [InlineData("MGET a b c", new[] { 1, 2, 3 })]
    [InlineData("MSET a 1 b 2 c 3", new[] { 1, 3, 5 })]
    [InlineData("MSETNX a 1 b 2", new[] { 1, 3 })]
    [InlineData("DEL a b", new[] { 1, 2 })]
    [InlineData("EXISTS a b c", new[] { 1, 2, 3 })]
    [InlineData("RENAME a b", new[] { 1, 2 })]
    [InlineData("SMOVE src dst member", new[] { 1, 2 })]
    [InlineData("LMOVE a b LEFT RIGHT", new[] { 1, 2 })]
    [InlineData("BLMOVE a b LEFT RIGHT 0", new[] { 1, 2 })]
    [InlineData("BLPOP a b c 0", new[] { 1, 2, 3 })]
    [InlineData("BRPOP a 1.5", new[] { 1 })]
    [InlineData("BZPOPMIN a b 0", new[] { 1, 2 })]
    [InlineData("EVAL script 2 k1 k2 arg", new[] { 3, 4 })]
    [InlineData("EVAL script 0 arg", new int[0])]
    [InlineData("EVALSHA sha 1 k arg", new[] { 3 })]
    [InlineData("EVAL_RO script 1 k", new[] { 3 })]
    [InlineData("FCALL f 2 a b x", new[] { 3, 4 })]
    [InlineData("FCALL_RO f 1 a", new[] { 3 })]
    [InlineData("XREAD COUNT 2 STREAMS s1 s2 0 0", new[] { 4, 5 })]
    [InlineData("xread block 0 streams s 0", new[] { 4 })]
    [InlineData("XREADGROUP GROUP g c COUNT 1 STREAMS s1 s2 > >", new[] { 7, 8 })]
    [InlineData("XREADGROUP GROUP STREAMS STREAMS STREAMS s >", new[] { 5 })]
    [InlineData("ZUNIONSTORE dst 2 a b WEIGHTS 1 2", new[] { 1, 3, 4 })]
    [InlineData("ZINTERSTORE dst 1 a", new[] { 1, 3 })]
    [InlineData("ZDIFFSTORE dst 2 a b", new[] { 1, 3, 4 })]
    [InlineData("ZUNION 2 a b WITHSCORES", new[] { 2, 3 })]
    [InlineData("LMPOP 2 a b LEFT COUNT 1", new[] { 2, 3 })]
    [InlineData("BLMPOP 0 2 a b LEFT", new[] { 3, 4 })]
    [InlineData("ZMPOP 1 z MIN", new[] { 2 })]
    [InlineData("BZMPOP 0 2 a b MAX COUNT 2", new[] { 3, 4 })]
    [InlineData("ZINTERCARD 2 a b LIMIT 1", new[] { 2, 3 })]
    [InlineData("SINTERCARD 3 a b c", new[] { 2, 3, 4 })]
    [InlineData("SORT k", new[] { 1 })]
    [InlineData("SORT k BY w_* GET o_* LIMIT 0 10 ALPHA STORE dst", new[] { 1, 11 })]
    [InlineData("SORT k GET STORE", new[] { 1 })]
    [InlineData("SORT k STORE a STORE b", new[] { 1, 5 })]
    [InlineData("SORT_RO k BY w_* STORE x", new[] { 1 })]
    [InlineData("MIGRATE host 6379 k 0 1000", new[] { 3 })]
    [InlineData("MIGRATE host 6379 \"\" 0 1000 COPY REPLACE KEYS a b", new[] { 9, 10 })]
    [InlineData("MIGRATE host 6379 \"\" 0 1000 AUTH KEYS KEYS a", new[] { 9 })]
    [InlineData("MIGRATE host 6379 \"\" 0 1000 AUTH2 KEYS KEYS KEYS a", new[] { 10 })]
    [InlineData("OBJECT ENCODING k", new[] { 2 })]
    [InlineData("object freq k", new[] { 2 })]
    [InlineData("MEMORY USAGE k SAMPLES 5", new[] { 2 })]
    [InlineData("XINFO STREAM s FULL", new[] { 2 })]
    [InlineData("XGROUP CREATE s g $", new[] { 2 })]
    [InlineData("GEORADIUS k 0 0 1 km", new[] { 1 })]
    [InlineData("GEORADIUS k 0 0 1 km STORE d", new[] { 1, 7 })]
    [InlineData("GEORADIUS k 0 0 1 km STOREDIST d", new[] { 1, 7 })]
    [InlineData("GEOSEARCHSTORE dst src FROMMEMBER m BYRADIUS 1 km", new[] { 1, 2 })]
    [InlineData("BITOP AND dst a b", new[] { 2, 3, 4 })]
    [InlineData("BITFIELD k GET u8 0", new[] { 1 })]
    [InlineData("LCS a b", new[] { 1, 2 })]
    [InlineData("PFMERGE d a b", new[] { 1, 2, 3 })]
    [InlineData("WATCH a b", new[] { 1, 2 })]
    [InlineData("SPUBLISH channel message", new int[0])]
    [InlineData("PING", new int[0])]
    [InlineData("INFO", new int[0])]
    [InlineData("DBSIZE", new int[0])]
    [InlineData("CONFIG GET maxmemory", new int[0])]
    [InlineData("OBJECT HELP", new int[0])]
    [InlineData("PUBLISH channel message", new int[0])]
    public void FindKeys_BuiltinCommand_FindsRedisKeyPositions(string line, int[] expected)
    {
        Assert.Equal(expected, Find(line));
        Assert.Equal(expected, Find(line, bytePerSegment: true));
    }

    [Theory]
    [InlineData("EVAL script notanumber k")]
    [InlineData("EVAL script -1 k")]
    [InlineData("EVAL script 3 k")]
    [InlineData("ZUNIONSTORE dst 01 a")]
    [InlineData("LMPOP")]
    [InlineData("MIGRATE host 6379 k 0 1000 KEYS a")]
    public void FindKeys_KeyCountOrPositionInvalid_ReturnsMinusOne(string line)
    {
        Assert.Null(Find(line));
    }

    [Fact]
    public void FindKeys_SpanTooSmall_ReturnsMinusOne()
    {
        using var request = TestRequests.Parse("MGET a b c");
        Assert.True(CommandCatalog.Default.TryFind("mget", out var spec));

        Assert.Equal(-1, KeyFinder.FindKeys(request, spec, stackalloc int[2]));
        Assert.Equal(3, KeyFinder.FindKeys(request, spec, stackalloc int[3]));
    }

    [Fact]
    public void FindKeys_IncludeNotKeys_FindsShardedChannels()
    {
        using var request = TestRequests.Parse("SSUBSCRIBE a b");
        var spec = CommandCatalog.Default.Find(request)!;
        Span<int> indexes = stackalloc int[4];

        Assert.Equal(0, KeyFinder.FindKeys(request, spec, indexes));
        Assert.Equal(2, KeyFinder.FindKeys(request, spec, indexes, includeNotKeys: true));
        Assert.Equal([1, 2], indexes[..2].ToArray());
    }

    [Fact]
    public void FindKeys_NoKeySpecs_UsesFirstLastStep()
    {
        // A module command of a server that reports no key specs: last key -1 counts from the end.
        var spec = new CommandSpec("mod.mset", -3, CommandSpecFlags.Write, 1, -1, 2);
        using var request = TestRequests.Parse("MOD.MSET a 1 b 2 c 3");
        Span<int> indexes = stackalloc int[8];

        var count = KeyFinder.FindKeys(request, spec, indexes);

        Assert.Equal([1, 3, 5], indexes[..count].ToArray());
    }

    [Fact]
    public void FindKeys_MovableKeysWithoutSpecs_ReturnsMinusOne()
    {
        var spec = new CommandSpec("mod.movable", -2, CommandSpecFlags.MovableKeys | CommandSpecFlags.Module, 0, 0, 0);
        using var request = TestRequests.Parse("MOD.MOVABLE a b");

        Assert.Equal(-1, KeyFinder.FindKeys(request, spec, stackalloc int[8]));
    }

    [Fact]
    public void FindKeys_IncompleteSpecOfUnknownCommand_ReturnsMinusOne()
    {
        var spec = new CommandSpec("mod.cmd", -2, CommandSpecFlags.MovableKeys, 0, 0, 0,
            [new KeySpec(KeySpecFlags.RW | KeySpecFlags.Incomplete, BeginSearch.AtIndex(1), FindKeys.Range(0, 1, 0))], [], []);
        using var request = TestRequests.Parse("MOD.CMD a");

        Assert.Equal(-1, KeyFinder.FindKeys(request, spec, stackalloc int[8]));
    }

    [Fact]
    public void TryGetSlot_SameHashTag_SameSlotNotCrossSlot()
    {
        Assert.True(Slot("MGET {user1}.a {user1}.b", out var slot, out var crossSlot, out var keyless));

        Assert.Equal(HashSlot.Compute("user1"u8), slot);
        Assert.False(crossSlot);
        Assert.False(keyless);
    }

    [Fact]
    public void TryGetSlot_KeysInDifferentSlots_CrossSlot()
    {
        Assert.NotEqual(HashSlot.Compute("a"u8), HashSlot.Compute("b"u8));

        Assert.True(Slot("MSET a 1 b 2", out var slot, out var crossSlot, out _));

        Assert.Equal(HashSlot.Compute("a"u8), slot);
        Assert.True(crossSlot);
    }

    [Fact]
    public void TryGetSlot_TagAndDestinationDiffer_CrossSlot()
    {
        Assert.True(Slot("ZUNIONSTORE {x}dst 2 {x}a {y}b", out _, out var crossSlot, out _));
        Assert.True(crossSlot);
        Assert.True(Slot("ZUNIONSTORE {x}dst 2 {x}a {x}b", out _, out crossSlot, out _));
        Assert.False(crossSlot);
    }

    [Fact]
    public void TryGetSlot_ValuesAreNotKeys_NotCrossSlot()
    {
        // MSET's values and EVAL's arguments hash elsewhere but are not keys.
        Assert.True(Slot("MSET {t}a zzz {t}b yyy", out _, out var crossSlot, out _));
        Assert.False(crossSlot);
        Assert.True(Slot("EVAL script 1 {t}a other", out _, out crossSlot, out _));
        Assert.False(crossSlot);
    }

    [Fact]
    public void TryGetSlot_Keyless_KeylessWithoutSlot()
    {
        Assert.True(Slot("PING", out var slot, out var crossSlot, out var keyless));

        Assert.True(keyless);
        Assert.False(crossSlot);
        Assert.Equal(-1, slot);
    }

    [Fact]
    public void TryGetSlot_ShardedChannel_SlotOfChannel()
    {
        Assert.True(Slot("SPUBLISH news hello", out var slot, out _, out var keyless));

        Assert.False(keyless);
        Assert.Equal(HashSlot.Compute("news"u8), slot);
    }

    [Fact]
    public void TryGetSlot_Undetermined_ReturnsFalse()
    {
        Assert.False(Slot("EVAL script x", out var slot, out _, out var keyless));
        Assert.Equal(-1, slot);
        Assert.False(keyless);
    }

    [Fact]
    public void TryGetSlot_ManyKeys_RentsAndAgrees()
    {
        var line = "MGET " + string.Join(' ', Enumerable.Range(0, 1000).Select(i => $"{{tag}}k{i}"));

        Assert.True(Slot(line, out var slot, out var crossSlot, out _));

        Assert.Equal(HashSlot.Compute("tag"u8), slot);
        Assert.False(crossSlot);
    }

    [Theory]
    [InlineData("GET k")]
    [InlineData("CONFIG GET maxmemory")]
    [InlineData("XREADGROUP GROUP g c COUNT 1 STREAMS s1 s2 > >")]
    [InlineData("ZUNIONSTORE {x}dst 2 {x}a {y}b")]
    [InlineData("SORT k LIMIT 0 1 STORE d")]
    public void FindAndTryGetSlot_WarmedUp_AllocateNothing(string line)
    {
        using var request = TestRequests.Parse(line, bytePerSegment: true);
        var catalog = CommandCatalog.Default;
        Span<int> indexes = stackalloc int[16];
        _ = Run(request, catalog, indexes);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var count = Run(request, catalog, indexes);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(count >= 0);
        Assert.Equal(0, allocated);

        static int Run(RespRequest request, CommandCatalog catalog, Span<int> indexes)
        {
            var spec = catalog.Find(request)!;
            _ = KeyFinder.TryGetSlot(request, spec, out _, out _, out _);
            return KeyFinder.FindKeys(request, spec, indexes);
        }
    }

    private static int[]? Find(string line, bool bytePerSegment = false)
    {
        using var request = TestRequests.Parse(line, bytePerSegment);
        var spec = CommandCatalog.Default.Find(request) ?? throw new InvalidOperationException($"No spec for '{line}'.");
        Span<int> indexes = stackalloc int[request.Count];
        var count = KeyFinder.FindKeys(request, spec, indexes);
        return count < 0 ? null : indexes[..count].ToArray();
    }

    private static bool Slot(string line, out int slot, out bool crossSlot, out bool keyless)
    {
        using var request = TestRequests.Parse(line);
        var spec = CommandCatalog.Default.Find(request)!;
        return KeyFinder.TryGetSlot(request, spec, out slot, out crossSlot, out keyless);
    }
}
