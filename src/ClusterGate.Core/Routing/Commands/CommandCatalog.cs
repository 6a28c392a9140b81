using System.Buffers;
using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Routing.Commands;

/// <summary>
/// Every known command by name, looked up from the request's bytes without allocating: the name is lower-cased
/// (ASCII) into a stack buffer and found through the dictionary's span lookup. Containers such as CONFIG resolve
/// their subcommand ("CONFIG GET" finds "config|get"). Immutable: <see cref="WithLive"/> returns a new catalog.
/// </summary>
public sealed class CommandCatalog
{
    private const int MaxNameLength = 64;
    private readonly FrozenDictionary<string, CommandSpec> _byName;
    private readonly FrozenDictionary<string, CommandSpec>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    private CommandCatalog(IEnumerable<CommandSpec> commands, IReadOnlySet<string>? knownToTable)
    {
        var byName = new Dictionary<string, CommandSpec>(StringComparer.Ordinal);
        var topLevel = new List<CommandSpec>();
        foreach (var command in commands)
        {
            topLevel.Add(command);
            byName[command.Name] = command;
            foreach (var sub in command.Subcommands)
            {
                byName[sub.Name] = sub;
            }
        }

        // What the gateway's own table describes is classified by it; anything else (a module, a newer Redis) gets
        // the safe default.
        foreach (var (name, spec) in byName)
        {
            spec.Classify(knownToTable is null || knownToTable.Contains(name));
        }

        topLevel.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        Commands = [.. topLevel];
        _byName = byName.ToFrozenDictionary(StringComparer.Ordinal);
        _lookup = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The table generated from Redis (<see cref="GeneratedCommandTable"/>).</summary>
    public static CommandCatalog Default { get; } = new(GeneratedCommandTable.Commands, knownToTable: null);

    /// <summary>The Redis version the generated table was read from.</summary>
    public static string GeneratedFromVersion => GeneratedCommandTable.RedisVersion;

    /// <summary>Top-level commands, sorted by name; subcommands hang off their container.</summary>
    public ImmutableArray<CommandSpec> Commands { get; }

    /// <summary>Commands and subcommands.</summary>
    public int Count => _byName.Count;

    /// <summary>A catalog of exactly the commands of a <c>COMMAND</c> reply.</summary>
    public static CommandCatalog FromCommandReply(RespValue commandReply) => new(CommandReplyParser.Parse(commandReply), Default._byName.Keys.ToFrozenSet(StringComparer.Ordinal));

    /// <summary>
    /// This catalog with a live <c>COMMAND</c> reply merged in: live entries replace or add (modules, a newer server),
    /// nothing is removed. A live entry without key specs (a server older than 7) keeps the known specs when its
    /// first/last/step agree with them.
    /// </summary>
    public CommandCatalog WithLive(RespValue commandReply)
    {
        var merged = Commands.ToDictionary(static c => c.Name, StringComparer.Ordinal);
        foreach (var live in CommandReplyParser.Parse(commandReply))
        {
            merged[live.Name] = merged.TryGetValue(live.Name, out var known) ? Merge(known, live) : live;
        }

        return new CommandCatalog(merged.Values, Default._byName.Keys.ToFrozenSet(StringComparer.Ordinal));
    }

    /// <summary>A command or subcommand by its full name ("get", "CONFIG|GET"); for the control plane and tests.</summary>
    public bool TryFind(string name, [NotNullWhen(true)] out CommandSpec? spec)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name.ToLowerInvariant(), out spec);
    }

    /// <summary>A command (or "container|sub" name) from its bytes, any case.</summary>
    public bool TryFind(ReadOnlySpan<byte> name, [NotNullWhen(true)] out CommandSpec? spec)
    {
        Span<char> buffer = stackalloc char[MaxNameLength];
        var length = LowerAscii(name, buffer);
        spec = null;
        return length > 0 && _lookup.TryGetValue(buffer[..length], out spec);
    }

    /// <summary>A command from its name bytes and, for a container such as CONFIG, the subcommand's.</summary>
    /// <returns>The subcommand when the container has it; else the command itself (Redis will reject an unknown subcommand).</returns>
    public bool TryFind(in ReadOnlySequence<byte> name, in ReadOnlySequence<byte> subcommand, [NotNullWhen(true)] out CommandSpec? spec)
    {
        Span<char> buffer = stackalloc char[(MaxNameLength * 2) + 1];
        var length = LowerAscii(name, buffer[..MaxNameLength]);
        if (length <= 0 || !_lookup.TryGetValue(buffer[..length], out spec))
        {
            spec = null;
            return false;
        }

        if (spec.IsContainer && !subcommand.IsEmpty)
        {
            buffer[length] = '|';
            var subLength = LowerAscii(subcommand, buffer.Slice(length + 1, MaxNameLength));
            if (subLength > 0 && _lookup.TryGetValue(buffer[..(length + 1 + subLength)], out var sub))
            {
                spec = sub;
            }
        }

        return true;
    }

    /// <summary>The command (or subcommand) of a parsed request; null when unknown.</summary>
    public CommandSpec? Find(RespRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Count == 0)
        {
            return null;
        }

        var subcommand = request.Count > 1 ? request.Argument(1) : default;
        return TryFind(request.Argument(0), subcommand, out var spec) ? spec : null;
    }

    private static CommandSpec Merge(CommandSpec known, CommandSpec live)
    {
        var keySpecs = live.KeySpecs.IsEmpty && !known.KeySpecs.IsEmpty
            && live.FirstKey == known.FirstKey && live.LastKey == known.LastKey && live.Step == known.Step
            ? known.KeySpecs
            : live.KeySpecs;
        var subcommands = known.Subcommands.ToDictionary(static s => s.Name, StringComparer.Ordinal);
        foreach (var sub in live.Subcommands)
        {
            subcommands[sub.Name] = subcommands.TryGetValue(sub.Name, out var knownSub) ? Merge(knownSub, sub) : sub;
        }

        return new CommandSpec(
            live.Name, live.Arity, live.Flags, live.FirstKey, live.LastKey, live.Step, keySpecs, live.Tips,
            [.. subcommands.Values.OrderBy(static s => s.Name, StringComparer.Ordinal)]);
    }

    private static int LowerAscii(ReadOnlySpan<byte> bytes, Span<char> destination)
    {
        if (bytes.Length > destination.Length)
        {
            return -1;
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            if (b >= 0x80)
            {
                return -1;
            }

            destination[i] = (char)((uint)(b - 'A') <= 'Z' - 'A' ? b | 0x20 : b);
        }

        return bytes.Length;
    }

    private static int LowerAscii(in ReadOnlySequence<byte> bytes, Span<char> destination)
    {
        if (bytes.IsSingleSegment)
        {
            return LowerAscii(bytes.FirstSpan, destination);
        }

        if (bytes.Length > destination.Length)
        {
            return -1;
        }

        var written = 0;
        foreach (var segment in bytes)
        {
            if (LowerAscii(segment.Span, destination[written..]) < 0)
            {
                return -1;
            }

            written += segment.Length;
        }

        return written;
    }
}
