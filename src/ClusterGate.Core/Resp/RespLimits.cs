namespace ClusterGate.Core.Resp;

/// <summary>Sizes the input decides, bounded. Defaults are Redis's own bounds.</summary>
public sealed record RespLimits
{
    /// <summary>Redis <c>proto-max-bulk-len</c> default, 512 MiB.</summary>
    public const long DefaultMaxBulkLength = 512L * 1024 * 1024;

    /// <summary>Redis <c>PROTO_INLINE_MAX_SIZE</c>, 64 KiB.</summary>
    public const int DefaultMaxInlineLength = 64 * 1024;

    public const int DefaultMaxNestingDepth = 64;

    public static RespLimits Default { get; } = new();

    /// <summary>
    /// For what Redis answers: its own bounds on sizes, none on nesting (a Lua script may return a table thousands of
    /// levels deep, which Redis relays without complaint). Limits guard what clients send, not what Redis answers.
    /// </summary>
    public static RespLimits Replies { get; } = new() { MaxNestingDepth = int.MaxValue };

    /// <summary>Largest accepted bulk string (also bounds simple-string lines).</summary>
    public long MaxBulkLength
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    } = DefaultMaxBulkLength;

    /// <summary>Largest accepted aggregate element count (pairs for maps and attributes).</summary>
    public int MaxArrayLength
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    } = int.MaxValue;

    /// <summary>Deepest accepted nesting of aggregates.</summary>
    public int MaxNestingDepth
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    } = DefaultMaxNestingDepth;

    /// <summary>Longest inline command line, without its line ending.</summary>
    public int MaxInlineLength
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    } = DefaultMaxInlineLength;
}
