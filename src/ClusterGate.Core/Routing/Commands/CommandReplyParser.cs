using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Globalization;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Routing.Commands;

/// <summary>
/// Reads a <c>COMMAND</c> (or <c>COMMAND INFO</c>) reply, RESP2 or RESP3, into <see cref="CommandSpec"/>s. Control
/// plane: strings are fine, malformed entries are skipped and nothing throws. Shared by the catalog's live merge and
/// by tools/ClusterGate.CommandTableGen, so the checked-in table and the live one cannot disagree on the format.
/// </summary>
public static class CommandReplyParser
{
    internal static readonly FrozenDictionary<string, CommandSpecFlags> CommandFlagNames = new Dictionary<string, CommandSpecFlags>
    {
        ["write"] = CommandSpecFlags.Write,
        ["readonly"] = CommandSpecFlags.ReadOnly,
        ["denyoom"] = CommandSpecFlags.DenyOom,
        ["module"] = CommandSpecFlags.Module,
        ["admin"] = CommandSpecFlags.Admin,
        ["pubsub"] = CommandSpecFlags.PubSub,
        ["noscript"] = CommandSpecFlags.NoScript,
        ["blocking"] = CommandSpecFlags.Blocking,
        ["loading"] = CommandSpecFlags.Loading,
        ["stale"] = CommandSpecFlags.Stale,
        ["skip_monitor"] = CommandSpecFlags.SkipMonitor,
        ["skip_slowlog"] = CommandSpecFlags.SkipSlowlog,
        ["asking"] = CommandSpecFlags.Asking,
        ["fast"] = CommandSpecFlags.Fast,
        ["no_auth"] = CommandSpecFlags.NoAuth,
        ["may_replicate"] = CommandSpecFlags.MayReplicate,
        ["sentinel"] = CommandSpecFlags.Sentinel,
        ["only_sentinel"] = CommandSpecFlags.OnlySentinel,
        ["no_mandatory_keys"] = CommandSpecFlags.NoMandatoryKeys,
        ["protected"] = CommandSpecFlags.Protected,
        ["module_getkeys"] = CommandSpecFlags.ModuleGetKeys,
        ["module_no_cluster"] = CommandSpecFlags.ModuleNoCluster,
        ["no_async_loading"] = CommandSpecFlags.NoAsyncLoading,
        ["no_multi"] = CommandSpecFlags.NoMulti,
        ["movablekeys"] = CommandSpecFlags.MovableKeys,
        ["allow_busy"] = CommandSpecFlags.AllowBusy,
        ["module_getchannels"] = CommandSpecFlags.ModuleGetChannels,
        ["touches_arbitrary_keys"] = CommandSpecFlags.TouchesArbitraryKeys,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    internal static readonly FrozenDictionary<string, KeySpecFlags> KeySpecFlagNames = new Dictionary<string, KeySpecFlags>
    {
        ["RO"] = KeySpecFlags.RO,
        ["RW"] = KeySpecFlags.RW,
        ["OW"] = KeySpecFlags.OW,
        ["RM"] = KeySpecFlags.RM,
        ["access"] = KeySpecFlags.Access,
        ["update"] = KeySpecFlags.Update,
        ["insert"] = KeySpecFlags.Insert,
        ["delete"] = KeySpecFlags.Delete,
        ["not_key"] = KeySpecFlags.NotKey,
        ["incomplete"] = KeySpecFlags.Incomplete,
        ["variable_flags"] = KeySpecFlags.VariableFlags,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every well-formed top-level entry of the reply, subcommands nested in their container.</summary>
    /// <param name="unknown">Receives "command: flag" for each flag this version does not know (optional).</param>
    public static IReadOnlyList<CommandSpec> Parse(RespValue reply, ICollection<string>? unknown = null)
    {
        ArgumentNullException.ThrowIfNull(reply);
        var specs = new List<CommandSpec>();
        if (reply.IsNull || reply.Type is not (RespType.Array or RespType.Set))
        {
            return specs;
        }

        foreach (var entry in reply.Items)
        {
            if (ParseEntry(entry, unknown) is { } spec)
            {
                specs.Add(spec);
            }
        }

        return specs;
    }

    /// <summary>One entry: [name, arity, flags, first, last, step, acl categories, tips, key specs, subcommands].</summary>
    public static CommandSpec? ParseEntry(RespValue entry, ICollection<string>? unknown = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var items = entry.Items;
        if (entry.IsNull || items.Count < 6 || !IsText(items[0])
            || !TryInt(items[1], out var arity) || !TryInt(items[3], out var first)
            || !TryInt(items[4], out var last) || !TryInt(items[5], out var step))
        {
            return null;
        }

        var name = items[0].AsString().ToLowerInvariant();
        if (name.Length == 0)
        {
            return null;
        }

        var flags = CommandSpecFlags.None;
        foreach (var flag in items[2].Items)
        {
            var text = flag.AsString();
            if (CommandFlagNames.TryGetValue(text, out var bit))
            {
                flags |= bit;
            }
            else
            {
                unknown?.Add($"{name}: {text}");
            }
        }

        var tips = ImmutableArray<string>.Empty;
        if (items.Count > 7)
        {
            tips = [.. items[7].Items.Where(IsText).Select(static t => t.AsString())];
        }

        var keySpecs = ImmutableArray.CreateBuilder<KeySpec>();
        if (items.Count > 8)
        {
            foreach (var keySpec in items[8].Items)
            {
                keySpecs.Add(ParseKeySpec(name, keySpec, unknown));
            }
        }

        var subcommands = ImmutableArray.CreateBuilder<CommandSpec>();
        if (items.Count > 9)
        {
            foreach (var sub in items[9].Items)
            {
                if (ParseEntry(sub, unknown) is { } subSpec)
                {
                    subcommands.Add(subSpec);
                }
            }
        }

        return new CommandSpec(name, arity, flags, first, last, step, keySpecs.ToImmutable(), tips, subcommands.ToImmutable());
    }

    private static KeySpec ParseKeySpec(string command, RespValue keySpec, ICollection<string>? unknown)
    {
        var flags = KeySpecFlags.None;
        foreach (var flag in Field(keySpec, "flags")?.Items ?? [])
        {
            var text = flag.AsString();
            if (KeySpecFlagNames.TryGetValue(text, out var bit))
            {
                flags |= bit;
            }
            else
            {
                unknown?.Add($"{command} key spec: {text}");
            }
        }

        var begin = BeginSearch.Unknown;
        if (Field(keySpec, "begin_search") is { } beginSearch && Field(beginSearch, "spec") is { } beginSpec)
        {
            switch (Field(beginSearch, "type")?.AsString())
            {
                case "index" when TryInt(Field(beginSpec, "index"), out var index):
                    begin = BeginSearch.AtIndex(index);
                    break;
                case "keyword" when Field(beginSpec, "keyword") is { } keyword && IsText(keyword)
                                    && TryInt(Field(beginSpec, "startfrom"), out var startFrom):
                    begin = BeginSearch.AtKeyword(keyword.AsString(), startFrom);
                    break;
            }
        }

        var find = FindKeys.Unknown;
        if (Field(keySpec, "find_keys") is { } findKeys && Field(findKeys, "spec") is { } findSpec)
        {
            switch (Field(findKeys, "type")?.AsString())
            {
                case "range" when TryInt(Field(findSpec, "lastkey"), out var lastKey)
                                  && TryInt(Field(findSpec, "keystep"), out var keyStep)
                                  && TryInt(Field(findSpec, "limit"), out var limit):
                    find = FindKeys.Range(lastKey, keyStep, limit);
                    break;
                case "keynum" when TryInt(Field(findSpec, "keynumidx"), out var keyNumIndex)
                                   && TryInt(Field(findSpec, "firstkey"), out var firstKey)
                                   && TryInt(Field(findSpec, "keystep"), out var keyStep):
                    find = FindKeys.KeyNum(keyNumIndex, firstKey, keyStep);
                    break;
            }
        }

        return new KeySpec(flags, begin, find);
    }

    /// <summary>A field of a RESP3 map or of a RESP2 array of names and values alternating.</summary>
    private static RespValue? Field(RespValue map, string name)
    {
        var items = map.Items;
        for (var i = 0; i + 1 < items.Count; i += 2)
        {
            if (IsText(items[i]) && string.Equals(items[i].AsString(), name, StringComparison.OrdinalIgnoreCase))
            {
                return items[i + 1];
            }
        }

        return null;
    }

    private static bool IsText(RespValue value) =>
        !value.IsNull && value.Type is RespType.BulkString or RespType.SimpleString or RespType.Verbatim;

    private static bool TryInt(RespValue? value, out int result)
    {
        result = 0;
        if (value is null || value.IsNull)
        {
            return false;
        }

        if (value.Type == RespType.Integer)
        {
            if (value.Integer is < int.MinValue or > int.MaxValue)
            {
                return false;
            }

            result = (int)value.Integer;
            return true;
        }

        return IsText(value) && int.TryParse(value.AsString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result);
    }
}
