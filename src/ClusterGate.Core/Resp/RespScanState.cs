using System.Runtime.CompilerServices;

namespace ClusterGate.Core.Resp;

/// <summary>
/// How far <see cref="RespFrameScanner"/> got into a frame that has not fully arrived, so the next call on the
/// grown buffer (same start) resumes there instead of rescanning: a large aggregate or bulk arriving in pieces
/// costs O(new bytes). Keep one per stream; a default value means "no frame in progress".
/// </summary>
public struct RespScanState
{
    /// <summary>Upper bound for <see cref="RespLimits.MaxNestingDepth"/>: the size of the inline count stack.</summary>
    public const int MaxSupportedNestingDepth = 128;

    /// <summary>Frame bytes already validated, from the frame start; the next value header starts there.</summary>
    internal long Consumed;

    /// <summary>Payload plus CRLF still expected for a bulk whose header is validated; 0 when none.</summary>
    internal long PendingBulk;

    /// <summary>Bytes after the type byte of a partial simple-string line already known valid.</summary>
    internal long LineChecked;

    /// <summary>Open aggregates; <see cref="Remaining"/>[0] is the frame itself.</summary>
    internal int Depth;

    internal bool Active;

    /// <summary>Values still expected at each open level.</summary>
    internal CountStack Remaining;

    /// <summary>True while a frame has been partly scanned.</summary>
    public readonly bool IsInProgress => Active;

    /// <summary>Forgets a partly scanned frame (after the caller dropped its buffer).</summary>
    public void Reset()
    {
        Active = false;
        Consumed = 0;
        PendingBulk = 0;
        LineChecked = 0;
        Depth = 0;
    }

    internal void Begin()
    {
        Reset();
        Active = true;
        Remaining[0] = 1;
    }

    [InlineArray(MaxSupportedNestingDepth + 1)]
    internal struct CountStack
    {
        private long _element0;
    }
}
