using System.Collections.Immutable;

namespace ClusterGate.Core.Routing.Commands;

/// <summary>
/// One command as Redis 7's <c>COMMAND</c> describes it. Names are lower case, subcommands as
/// <c>"config|get"</c>. Key positions count the command name as argument 0, as Redis does.
/// </summary>
/// <param name="Arity">Argument count including the name; negative means "at least -Arity".</param>
/// <param name="FirstKey">Legacy first key index, 0 when the command takes no keys.</param>
/// <param name="LastKey">Legacy last key index; negative counts from the end (-1 is the last argument).</param>
/// <param name="Step">Legacy distance between keys.</param>
public sealed record CommandSpec(
    string Name,
    int Arity,
    CommandSpecFlags Flags,
    int FirstKey,
    int LastKey,
    int Step,
    ImmutableArray<KeySpec> KeySpecs,
    ImmutableArray<string> Tips,
    ImmutableArray<CommandSpec> Subcommands)
{
    public CommandSpec(string name, int arity, CommandSpecFlags flags, int firstKey, int lastKey, int step)
        : this(name, arity, flags, firstKey, lastKey, step, [], [], [])
    {
    }

    // Get-only so that a `with` expression cannot leave Extraction stale.
    public string Name { get; } = Name;

    public CommandSpecFlags Flags { get; } = Flags;

    public int FirstKey { get; } = FirstKey;

    public ImmutableArray<KeySpec> KeySpecs { get; } = KeySpecs.IsDefault ? [] : KeySpecs;

    public ImmutableArray<string> Tips { get; } = Tips.IsDefault ? [] : Tips;

    public ImmutableArray<CommandSpec> Subcommands { get; } = Subcommands.IsDefault ? [] : Subcommands;

    /// <summary>
    /// What the command does besides its result, for both frontends (see <see cref="CommandTraits"/>). Set by the
    /// catalog, which knows whether the gateway's own table describes the command.
    /// </summary>
    internal CommandTraits Traits { get; private set; } = CommandTraits.Unknown;

    internal void Classify(bool knownToTable) =>
        Traits = knownToTable ? CommandTraits.Of(Name, Flags, Tips) : CommandTraits.UnknownToTable(Flags);

    public bool IsContainer => !Subcommands.IsEmpty;

    /// <summary>
    /// The command's only key is its first argument, by every description Redis gives (legacy range,
    /// key specs, no movable keys): its slot is the slot of argument 1. GET, SET, INCR, LPUSH, HSET...
    /// </summary>
    public bool KeyIsFirstArgumentOnly =>
        FirstKey == 1 && LastKey == 1 && Step == 1 && KeySpecs.Length <= 1 && !IsContainer && !HasFlag(CommandSpecFlags.MovableKeys);

    public bool HasFlag(CommandSpecFlags flag) => (Flags & flag) == flag;

    /// <summary>How <see cref="KeyFinder"/> finds this command's keys, decided once here rather than per request.</summary>
    internal KeyExtraction Extraction { get; } = ChooseExtraction(Name, Flags, FirstKey, KeySpecs.IsDefault ? [] : KeySpecs);

    private static KeyExtraction ChooseExtraction(string name, CommandSpecFlags flags, int firstKey, ImmutableArray<KeySpec> keySpecs)
    {
        // The built-in commands whose specs are incomplete by design; Redis falls back to their getkeys_proc,
        // which KeyFinder mirrors.
        switch (name)
        {
            case "sort":
                return KeyExtraction.Sort;
            case "sort_ro":
                return KeyExtraction.SortReadOnly;
            case "migrate":
                return KeyExtraction.Migrate;
        }

        if (!keySpecs.IsDefaultOrEmpty)
        {
            foreach (var spec in keySpecs)
            {
                if (!spec.IsComplete)
                {
                    return KeyExtraction.Undetermined;
                }
            }

            return KeyExtraction.Specs;
        }

        if ((flags & CommandSpecFlags.MovableKeys) != 0)
        {
            return KeyExtraction.Undetermined;
        }

        return firstKey == 0 ? KeyExtraction.None : KeyExtraction.Legacy;
    }
}

internal enum KeyExtraction : byte
{
    /// <summary>No keys at all.</summary>
    None,

    /// <summary>From the Redis 7 key specs.</summary>
    Specs,

    /// <summary>From first key, last key and step (a server or module without key specs).</summary>
    Legacy,

    /// <summary>SORT: the sorted key and the STORE destination (Redis's <c>sortGetKeys</c>).</summary>
    Sort,

    /// <summary>SORT_RO: the sorted key only (BY/GET patterns name keys only at run time).</summary>
    SortReadOnly,

    /// <summary>MIGRATE: argument 3, or the keys after KEYS (Redis's <c>migrateGetKeys</c>).</summary>
    Migrate,

    /// <summary>Movable keys that no complete spec describes (a module command, or an unknown spec).</summary>
    Undetermined,
}
