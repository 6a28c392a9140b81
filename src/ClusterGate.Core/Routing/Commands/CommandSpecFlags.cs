namespace ClusterGate.Core.Routing.Commands;

/// <summary>
/// The command flags of Redis 7's <c>COMMAND</c> reply, one bit each. Flags this enum does not know (a newer
/// server, a module) are dropped when a reply is read; <see cref="CommandReplyParser"/> reports them.
/// </summary>
[Flags]
public enum CommandSpecFlags : long
{
    None = 0,
    Write = 1L << 0,
    ReadOnly = 1L << 1,
    DenyOom = 1L << 2,
    Module = 1L << 3,
    Admin = 1L << 4,
    PubSub = 1L << 5,
    NoScript = 1L << 6,
    Blocking = 1L << 7,
    Loading = 1L << 8,
    Stale = 1L << 9,
    SkipMonitor = 1L << 10,
    SkipSlowlog = 1L << 11,
    Asking = 1L << 12,
    Fast = 1L << 13,
    NoAuth = 1L << 14,
    MayReplicate = 1L << 15,
    Sentinel = 1L << 16,
    OnlySentinel = 1L << 17,
    NoMandatoryKeys = 1L << 18,
    Protected = 1L << 19,
    ModuleGetKeys = 1L << 20,
    ModuleNoCluster = 1L << 21,
    NoAsyncLoading = 1L << 22,
    NoMulti = 1L << 23,
    MovableKeys = 1L << 24,
    AllowBusy = 1L << 25,
    ModuleGetChannels = 1L << 26,
    TouchesArbitraryKeys = 1L << 27,
}

/// <summary>The flags of one Redis 7 key specification.</summary>
[Flags]
public enum KeySpecFlags
{
    None = 0,

    /// <summary>Read-only: reads the value without changing it.</summary>
    RO = 1 << 0,

    /// <summary>Read-write: reads and modifies the value.</summary>
    RW = 1 << 1,

    /// <summary>Overwrite: writes without reading.</summary>
    OW = 1 << 2,

    /// <summary>Removes the key.</summary>
    RM = 1 << 3,
    Access = 1 << 4,
    Update = 1 << 5,
    Insert = 1 << 6,
    Delete = 1 << 7,

    /// <summary>Not a key but hashed like one (sharded pub/sub channels of SPUBLISH, SSUBSCRIBE).</summary>
    NotKey = 1 << 8,

    /// <summary>The spec may miss keys; Redis then asks the command's own key extractor.</summary>
    Incomplete = 1 << 9,
    VariableFlags = 1 << 10,
}
