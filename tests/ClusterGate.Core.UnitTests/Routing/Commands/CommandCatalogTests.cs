using System.Buffers;
using System.Text;
using ClusterGate.Core.Observability;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using Xunit;

namespace ClusterGate.Core.UnitTests.Routing.Commands;

public sealed class CommandCatalogTests
{
    [Theory]
    [InlineData("get", true)]
    [InlineData("set", true)]
    [InlineData("incr", true)]
    [InlineData("lpush", true)]
    [InlineData("hset", true)]
    [InlineData("getex", true)]
    [InlineData("mget", false)]
    [InlineData("mset", false)]
    [InlineData("del", false)]
    [InlineData("blpop", false)]
    [InlineData("eval", false)]
    [InlineData("georadius", false)]
    [InlineData("xread", false)]
    [InlineData("sort", false)]
    [InlineData("object", false)]
    [InlineData("ssubscribe", false)]
    [InlineData("ping", false)]
    [InlineData("watch", false)]
    public void KeyIsFirstArgumentOnly_OnlyCommandsWhoseSlotIsArgumentOne(string name, bool expected)
    {
        Assert.True(CommandCatalog.Default.TryFind(name, out var spec));

        Assert.Equal(expected, spec.KeyIsFirstArgumentOnly);
    }

    [Theory]
    [InlineData("set", CommandClass.Write)]
    [InlineData("del", CommandClass.Write)]
    [InlineData("blpop", CommandClass.Write)]
    [InlineData("get", CommandClass.Read)]
    [InlineData("mget", CommandClass.Read)]
    [InlineData("scan", CommandClass.Read)]
    [InlineData("ping", CommandClass.Other)]
    [InlineData("auth", CommandClass.Other)]
    [InlineData("eval", CommandClass.Other)]
    [InlineData("publish", CommandClass.Other)]
    public void Class_FromRedisFlags_WriteReadOrOther(string name, CommandClass expected)
    {
        Assert.True(CommandCatalog.Default.TryFind(name, out var spec));

        Assert.Equal(expected, spec.Traits.Class);
    }

    [Fact]
    public void KeyIsFirstArgumentOnly_AgreesWithTheKeyFinderForEveryCommandOfTheTable()
    {
        // For each such command, a request with a distinct key and plain arguments: the key finder
        // (key specs) must name argument 1 alone, the position the router's fast path hashes.
        foreach (var spec in CommandCatalog.Default.Commands.Where(s => s.KeyIsFirstArgumentOnly))
        {
            var count = spec.Arity > 0 ? spec.Arity : Math.Max(-spec.Arity, 2);
            var args = new[] { spec.Name, "{key}" }.Concat(Enumerable.Range(2, count - 2).Select(i => "a" + i)).ToArray();
            using var request = TestRequests.Parse(string.Join(' ', args));
            var indexes = new int[Math.Max(16, count)];
            var found = KeyFinder.FindKeys(request, spec, indexes, includeNotKeys: true);
            Assert.True(found == 1 && indexes[0] == 1, $"{spec.Name}: the key finder found {found} key(s) at {string.Join(",", indexes.Take(Math.Max(found, 0)))}");
        }
    }

    [Theory]
    [InlineData("get")]
    [InlineData("GET")]
    [InlineData("gEt")]
    public void TryFind_AnyCase_FindsLowerCaseName(string name)
    {
        Assert.True(CommandCatalog.Default.TryFind(Encoding.ASCII.GetBytes(name), out var spec));
        Assert.Equal("get", spec.Name);
        Assert.Equal(2, spec.Arity);
        Assert.True(spec.HasFlag(CommandSpecFlags.ReadOnly | CommandSpecFlags.Fast));
        Assert.Equal((1, 1, 1), (spec.FirstKey, spec.LastKey, spec.Step));
    }

    [Theory]
    [InlineData("CONFIG GET maxmemory", "config|get")]
    [InlineData("config set a b", "config|set")]
    [InlineData("Object Encoding k", "object|encoding")]
    [InlineData("MEMORY USAGE k", "memory|usage")]
    [InlineData("CLIENT LIST", "client|list")]
    [InlineData("CONFIG", "config")]
    [InlineData("CONFIG NOSUCH", "config")]
    [InlineData("GET CONFIG", "get")]
    public void Find_ContainerAndSubcommand_FindsSubcommand(string line, string expected)
    {
        using var request = TestRequests.Parse(line);

        Assert.Equal(expected, CommandCatalog.Default.Find(request)?.Name);
    }

    [Fact]
    public void Find_MultiSegmentName_FindsCommand()
    {
        using var request = TestRequests.Parse("xReadGroup GROUP g c STREAMS s >", bytePerSegment: true);
        using var sub = TestRequests.Parse("ObJeCt EnCoDiNg k", bytePerSegment: true);

        Assert.Equal("xreadgroup", CommandCatalog.Default.Find(request)?.Name);
        Assert.Equal("object|encoding", CommandCatalog.Default.Find(sub)?.Name);
    }

    [Theory]
    [InlineData("NOSUCHCOMMAND")]
    [InlineData("GÉT")]
    [InlineData("")]
    public void TryFind_Unknown_ReturnsFalse(string name)
    {
        Assert.False(CommandCatalog.Default.TryFind(Encoding.UTF8.GetBytes(name), out _));
    }

    [Fact]
    public void TryFind_NameLongerThanAnyCommand_ReturnsFalse()
    {
        var name = new ReadOnlySequence<byte>(new byte[1000]);
        Assert.False(CommandCatalog.Default.TryFind(name, default, out _));
    }

    [Fact]
    public void Default_GeneratedTable_HasRedis7CommandsAndSubcommands()
    {
        var catalog = CommandCatalog.Default;

        Assert.True(catalog.Commands.Length >= 200);
        Assert.True(catalog.TryFind("config|get", out var configGet));
        Assert.True(catalog.TryFind("CONFIG", out var config));
        Assert.True(config.IsContainer);
        Assert.Contains(configGet, config.Subcommands);
        Assert.True(catalog.TryFind("xread", out var xread));
        Assert.Equal(new KeySpec(KeySpecFlags.RO | KeySpecFlags.Access, BeginSearch.AtKeyword("STREAMS", 1), FindKeys.Range(-1, 1, 2)), Assert.Single(xread.KeySpecs));
        Assert.Equal(catalog.Commands.OrderBy(c => c.Name, StringComparer.Ordinal).Select(c => c.Name), catalog.Commands.Select(c => c.Name));
    }

    [Fact]
    public void WithLive_ModuleCommand_IsAdded()
    {
        var reply = RespValue.Array(Entry("json.get", -2, ["readonly"], 1, 1, 1, KeySpecIndex(1, "RO", "access")));

        var catalog = CommandCatalog.Default.WithLive(reply);

        Assert.True(catalog.TryFind("JSON.GET"u8, out var spec));
        Assert.Equal(-2, spec.Arity);
        Assert.Equal(BeginSearch.AtIndex(1), Assert.Single(spec.KeySpecs).BeginSearch);
        Assert.True(catalog.TryFind("get", out _));
        Assert.Equal(CommandCatalog.Default.Count + 1, catalog.Count);
        Assert.False(CommandCatalog.Default.TryFind("json.get", out _));
    }

    [Fact]
    public void WithLive_KnownCommand_LiveOverrides()
    {
        var reply = RespValue.Array(Entry("get", 2, ["readonly", "fast", "stale"], 1, 1, 1, KeySpecIndex(1, "RO", "access")));

        var catalog = CommandCatalog.Default.WithLive(reply);

        Assert.True(catalog.TryFind("get", out var spec));
        Assert.True(spec.HasFlag(CommandSpecFlags.Stale));
    }

    [Fact]
    public void WithLive_PreRedis7EntryWithoutKeySpecs_KeepsKnownKeySpecs()
    {
        // Redis 6 entries stop after the ACL categories: no tips, key specs or subcommands.
        var reply = RespValue.Array(RespValue.Array(
            RespValue.Bulk("xread"), RespValue.Int(-4), RespValue.Array(RespValue.Simple("readonly"), RespValue.Simple("movablekeys")),
            RespValue.Int(0), RespValue.Int(0), RespValue.Int(0), RespValue.Array()));

        var catalog = CommandCatalog.Default.WithLive(reply);

        Assert.True(catalog.TryFind("xread", out var spec));
        Assert.Single(spec.KeySpecs);
        Assert.False(spec.HasFlag(CommandSpecFlags.Blocking));
    }

    [Fact]
    public void WithLive_NewSubcommand_AddedNextToKnownOnes()
    {
        var container = RespValue.Array(
            RespValue.Bulk("config"), RespValue.Int(-2), RespValue.Array(), RespValue.Int(0), RespValue.Int(0), RespValue.Int(0),
            RespValue.Array(), RespValue.Array(), RespValue.Array(),
            RespValue.Array(Entry("config|frobnicate", 3, ["admin"], 0, 0, 0)));

        var catalog = CommandCatalog.Default.WithLive(RespValue.Array(container));
        using var request = TestRequests.Parse("CONFIG FROBNICATE x");

        Assert.Equal("config|frobnicate", catalog.Find(request)?.Name);
        Assert.True(catalog.TryFind("config|get", out _));
        Assert.True(catalog.TryFind("config", out var config));
        Assert.Contains(config.Subcommands, s => s.Name == "config|frobnicate");
    }

    [Fact]
    public void FromCommandReply_Resp3Maps_ReadLikeResp2()
    {
        var keySpec = RespValue.Map(
            RespValue.Simple("flags"), RespValue.Set(RespValue.Simple("RO")),
            RespValue.Simple("begin_search"), RespValue.Map(
                RespValue.Simple("type"), RespValue.Simple("keyword"),
                RespValue.Simple("spec"), RespValue.Map(RespValue.Simple("keyword"), RespValue.Simple("STREAMS"), RespValue.Simple("startfrom"), RespValue.Int(1))),
            RespValue.Simple("find_keys"), RespValue.Map(
                RespValue.Simple("type"), RespValue.Simple("range"),
                RespValue.Simple("spec"), RespValue.Map(RespValue.Simple("lastkey"), RespValue.Int(-1), RespValue.Simple("keystep"), RespValue.Int(1), RespValue.Simple("limit"), RespValue.Int(2))));
        var entry = RespValue.Array(
            RespValue.Bulk("XREAD"), RespValue.Int(-4), RespValue.Set(RespValue.Simple("readonly"), RespValue.Simple("brand_new_flag")),
            RespValue.Int(0), RespValue.Int(0), RespValue.Int(0), RespValue.Set(), RespValue.Set(), RespValue.Array(keySpec), RespValue.Array());
        var unknown = new List<string>();

        var specs = CommandReplyParser.Parse(RespValue.Array(entry, RespValue.Bulk("junk"), RespValue.Array()), unknown);

        var spec = Assert.Single(specs);
        Assert.Equal("xread", spec.Name);
        Assert.Equal(CommandSpecFlags.ReadOnly, spec.Flags);
        Assert.Equal(new KeySpec(KeySpecFlags.RO, BeginSearch.AtKeyword("STREAMS", 1), FindKeys.Range(-1, 1, 2)), Assert.Single(spec.KeySpecs));
        Assert.Equal(["xread: brand_new_flag"], unknown);
    }

    [Fact]
    public void FromCommandReply_NotAnArray_IsEmpty()
    {
        Assert.Equal(0, CommandCatalog.FromCommandReply(RespValue.Error("ERR nope")).Count);
    }

    private static RespValue Entry(string name, int arity, string[] flags, int first, int last, int step, params RespValue[] keySpecs) =>
        RespValue.Array(
            RespValue.Bulk(name), RespValue.Int(arity), RespValue.Array([.. flags.Select(RespValue.Simple)]),
            RespValue.Int(first), RespValue.Int(last), RespValue.Int(step),
            RespValue.Array(), RespValue.Array(), RespValue.Array(keySpecs), RespValue.Array());

    private static RespValue KeySpecIndex(int index, params string[] flags) =>
        RespValue.Array(
            RespValue.Bulk("flags"), RespValue.Array([.. flags.Select(RespValue.Simple)]),
            RespValue.Bulk("begin_search"), RespValue.Array(
                RespValue.Bulk("type"), RespValue.Bulk("index"),
                RespValue.Bulk("spec"), RespValue.Array(RespValue.Bulk("index"), RespValue.Int(index))),
            RespValue.Bulk("find_keys"), RespValue.Array(
                RespValue.Bulk("type"), RespValue.Bulk("range"),
                RespValue.Bulk("spec"), RespValue.Array(
                    RespValue.Bulk("lastkey"), RespValue.Int(0), RespValue.Bulk("keystep"), RespValue.Int(1), RespValue.Bulk("limit"), RespValue.Int(0))));
}
