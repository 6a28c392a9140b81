using System.Buffers;
using System.Collections.Frozen;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Routing;

/// <summary>What Redis's <c>COMMAND</c> reply says about a command that the data plane cares about.</summary>
[Flags]
public enum CommandFlags
{
    None = 0,
    ReadOnly = 1 << 0,
    Write = 1 << 1,
    Blocking = 1 << 2,
    PubSub = 1 << 3,
    NoScript = 1 << 4,
    Admin = 1 << 5,
}

/// <summary>
/// Command flags read from a live <c>COMMAND</c> reply, so commands of a newer server or of modules
/// are known. Looked up from the request's bytes without allocating.
/// </summary>
public sealed class CommandTable
{
    private const int MaxNameLength = 64;
    private readonly FrozenDictionary<string, CommandFlags> _flags;
    private readonly FrozenDictionary<string, CommandFlags>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly FrozenSet<string> _containers;
    private readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _containerLookup;

    private CommandTable(Dictionary<string, CommandFlags> flags, HashSet<string> containers)
    {
        _flags = flags.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _lookup = _flags.GetAlternateLookup<ReadOnlySpan<char>>();
        _containers = containers.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _containerLookup = _containers.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>No command known: nothing is read-only, so nothing is ever retried silently.</summary>
    public static CommandTable Empty { get; } = new([], []);

    public int Count => _flags.Count;

    /// <summary>Builds the table from a <c>COMMAND</c> (or <c>COMMAND INFO</c>) reply.</summary>
    public static CommandTable FromCommandReply(RespValue reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        var flags = new Dictionary<string, CommandFlags>(StringComparer.OrdinalIgnoreCase);
        var containers = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (reply.Type is RespType.Array or RespType.Set && !reply.IsNull)
        {
            foreach (var entry in reply.Items)
            {
                AddEntry(entry, flags, containers);
            }
        }

        return new CommandTable(flags, containers);
    }

    private static void AddEntry(RespValue entry, Dictionary<string, CommandFlags> flags, HashSet<string> containers)
    {
        if (entry.IsNull || entry.Items.Count < 3 || entry.Items[0].Type is not (RespType.BulkString or RespType.SimpleString))
        {
            return;
        }

        var name = entry.Items[0].AsString();
        var value = CommandFlags.None;
        foreach (var flag in entry.Items[2].Items)
        {
            value |= flag.AsString() switch
            {
                "readonly" => CommandFlags.ReadOnly,
                "write" => CommandFlags.Write,
                "blocking" => CommandFlags.Blocking,
                "pubsub" => CommandFlags.PubSub,
                "noscript" => CommandFlags.NoScript,
                "admin" => CommandFlags.Admin,
                _ => CommandFlags.None,
            };
        }

        flags[name] = value;

        // Redis 7: element 9 lists subcommands ("config|get"), each an entry of the same shape.
        if (entry.Items.Count > 9 && entry.Items[9].Items.Count > 0)
        {
            containers.Add(name);
            foreach (var sub in entry.Items[9].Items)
            {
                AddEntry(sub, flags, containers);
            }
        }
    }

    /// <summary>Flags of a command given its name and (for containers such as CONFIG) first argument.</summary>
    public CommandFlags Lookup(in ReadOnlySequence<byte> name, in ReadOnlySequence<byte> subcommand) => Lookup(name, subcommand, out _);

    /// <summary>As <see cref="Lookup(in ReadOnlySequence{byte}, in ReadOnlySequence{byte})"/>; also says whether the name has subcommands.</summary>
    public CommandFlags Lookup(in ReadOnlySequence<byte> name, in ReadOnlySequence<byte> subcommand, out bool isContainer)
    {
        Span<char> key = stackalloc char[(MaxNameLength * 2) + 1];
        var length = CopyAscii(name, key);
        isContainer = false;
        if (length <= 0)
        {
            return CommandFlags.None;
        }

        isContainer = _containerLookup.Contains(key[..length]);
        if (!subcommand.IsEmpty && isContainer)
        {
            key[length] = '|';
            var subLength = CopyAscii(subcommand, key[(length + 1)..]);
            if (subLength > 0 && _lookup.TryGetValue(key[..(length + 1 + subLength)], out var subFlags))
            {
                return subFlags;
            }
        }

        return _lookup.TryGetValue(key[..length], out var flags) ? flags : CommandFlags.None;
    }

    public bool IsReadOnly(string name) => _flags.TryGetValue(name, out var f) && (f & CommandFlags.ReadOnly) != 0 && (f & CommandFlags.Write) == 0;

    private static int CopyAscii(in ReadOnlySequence<byte> bytes, Span<char> destination)
    {
        if (bytes.Length > MaxNameLength || bytes.Length > destination.Length)
        {
            return -1;
        }

        var i = 0;
        foreach (var segment in bytes)
        {
            foreach (var b in segment.Span)
            {
                if (b >= 0x80)
                {
                    return -1;
                }

                destination[i++] = (char)b;
            }
        }

        return i;
    }
}
