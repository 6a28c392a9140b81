using System.Runtime.CompilerServices;

namespace ClusterGate.Core.Resp;

/// <summary>
/// How far <see cref="RespFrameScanner"/> got into a frame that has not fully arrived, so the next call on the
/// grown buffer (same start) resumes there instead of rescanning: a large aggregate or bulk arriving in pieces
/// costs O(new bytes). Keep one per stream; a default value means "no frame in progress".
/// </summary>
public struct RespScanState
{
    /// <summary>Open levels kept inline; deeper ones go to a heap array (only replies nest that deep).</summary>
    public const int InlineNestingDepth = 128;

    /// <summary>Frame bytes already validated, from the frame start; the next value header starts there.</summary>
    internal long Consumed;

    /// <summary>Payload plus CRLF still expected for a bulk whose header is validated; 0 when none.</summary>
    internal long PendingBulk;

    /// <summary>Bytes after the type byte of a partial simple-string line already known valid.</summary>
    internal long LineChecked;

    /// <summary>Open aggregates; <see cref="Remaining"/>[0] is the frame itself.</summary>
    internal int Depth;

    internal bool Active;

    /// <summary>Values still expected at each open level up to <see cref="InlineNestingDepth"/>.</summary>
    internal CountStack Remaining;

    /// <summary>Levels deeper than the inline stack (a reply nested thousands deep, as a Lua table can be).</summary>
    private long[]? _deeper;

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

    /// <summary>Values still expected at <paramref name="level"/>.</summary>
    internal readonly long RemainingAt(int level) => level <= InlineNestingDepth ? Remaining[level] : _deeper![level - InlineNestingDepth - 1];

    internal void SetRemaining(int level, long value)
    {
        if (level <= InlineNestingDepth)
        {
            Remaining[level] = value;
            return;
        }

        var index = level - InlineNestingDepth - 1;
        if (_deeper is null || index >= _deeper.Length)
        {
            Array.Resize(ref _deeper, Math.Max(64, index * 2));
        }

        _deeper[index] = value;
    }

    [InlineArray(InlineNestingDepth + 1)]
    internal struct CountStack
    {
        private long _element0;
    }
}
