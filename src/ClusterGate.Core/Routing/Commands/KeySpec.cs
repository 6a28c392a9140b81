namespace ClusterGate.Core.Routing.Commands;

public enum BeginSearchType : byte
{
    /// <summary>Keys cannot be found from the arguments alone (SORT's BY/GET/STORE).</summary>
    Unknown,

    /// <summary>The first key (or key count) is at a fixed argument index.</summary>
    Index,

    /// <summary>The first key follows a keyword such as <c>STREAMS</c>.</summary>
    Keyword,
}

public enum FindKeysType : byte
{
    Unknown,

    /// <summary>Keys run from the begin position to a last key, every <c>KeyStep</c> arguments.</summary>
    Range,

    /// <summary>An argument holds the number of keys that follow (EVAL, ZUNIONSTORE, LMPOP).</summary>
    KeyNum,
}

/// <summary>Where the search for keys starts: Redis's <c>begin_search</c>.</summary>
/// <param name="Index">For <see cref="BeginSearchType.Index"/>: the argument index (the command name is 0).</param>
/// <param name="Keyword">For <see cref="BeginSearchType.Keyword"/>: the keyword, upper case as Redis reports it.</param>
/// <param name="StartFrom">For a keyword: where the scan starts; negative scans backwards from the end.</param>
public readonly record struct BeginSearch(BeginSearchType Type, int Index, string? Keyword, int StartFrom)
{
    public static BeginSearch Unknown => default;

    public static BeginSearch AtIndex(int index) => new(BeginSearchType.Index, index, null, 0);

    public static BeginSearch AtKeyword(string keyword, int startFrom) => new(BeginSearchType.Keyword, 0, keyword, startFrom);
}

/// <summary>Which arguments after the begin position are keys: Redis's <c>find_keys</c>.</summary>
/// <param name="LastKey">For a range: last key relative to the begin position; negative counts from the end.</param>
/// <param name="KeyStep">Arguments from one key to the next (2 for MSET's key value pairs).</param>
/// <param name="Limit">For a range with LastKey -1: keys are 1/Limit of the remaining arguments (XREAD: 2).</param>
/// <param name="KeyNumIndex">For keynum: the key count's index relative to the begin position.</param>
/// <param name="FirstKey">For keynum: the first key's index relative to the begin position.</param>
public readonly record struct FindKeys(FindKeysType Type, int LastKey, int KeyStep, int Limit, int KeyNumIndex, int FirstKey)
{
    public static FindKeys Unknown => default;

    public static FindKeys Range(int lastKey, int keyStep, int limit) => new(FindKeysType.Range, lastKey, keyStep, limit, 0, 0);

    public static FindKeys KeyNum(int keyNumIndex, int firstKey, int keyStep) => new(FindKeysType.KeyNum, 0, keyStep, 0, keyNumIndex, firstKey);
}

/// <summary>One Redis 7 key specification of a command.</summary>
public sealed record KeySpec(KeySpecFlags Flags, BeginSearch BeginSearch, FindKeys FindKeys)
{
    /// <summary>True when the spec alone finds all its keys: known search types and not incomplete.</summary>
    public bool IsComplete =>
        BeginSearch.Type != BeginSearchType.Unknown
        && FindKeys.Type != FindKeysType.Unknown
        && (Flags & KeySpecFlags.Incomplete) == 0;
}
