using System.Buffers;
using System.Text;

namespace ClusterGate.Core.Resp;

/// <summary>
/// One client request as <see cref="RespRequestParser"/> found it. Keep one per connection and pass it to every
/// parse: its pooled arrays are reused, so after warm-up a request costs no allocation. Arguments of a RESP
/// array are slices of the receive buffer, valid until the caller advances past <see cref="Frame"/>.
/// </summary>
public sealed class RespRequest : IDisposable
{
    private const int InitialCapacity = 16;

    private long[] _offsets = [];
    private int[] _lengths = [];
    private SequencePosition[] _starts = [];
    private byte[] _inline = [];
    private byte[] _encoded = [];
    private int _encodedLength = -1;

    /// <summary>Arguments found so far (all of them once Complete).</summary>
    public int Count { get; private set; }

    /// <summary>The original bytes of the whole request, to forward unchanged.</summary>
    public ReadOnlySequence<byte> Frame { get; private set; }

    /// <summary>
    /// The request as a RESP array of bulk strings, what the gateway sends on: <see cref="Frame"/> itself, or for an
    /// inline command its arguments as the gateway split them. Redis reads an inline line with C string functions
    /// (a NUL byte hides the line feed behind it), so forwarding the line itself could make Redis read something
    /// else than the gateway did, or wait for more forever. Valid until the next parse.
    /// </summary>
    public ReadOnlySequence<byte> ArrayFrame
    {
        get
        {
            if (!IsInline)
            {
                return Frame;
            }

            if (_encodedLength < 0)
            {
                EncodeInline();
            }

            return new ReadOnlySequence<byte>(_encoded, 0, _encodedLength);
        }
    }

    /// <summary>True for an inline command (a text line), false for a RESP array of bulk strings.</summary>
    public bool IsInline { get; private set; }

    // Progress of a request that has not fully arrived, offsets from the frame start.
    internal bool InProgress { get; set; }

    /// <summary>Declared argument count of a RESP array, -1 before its header.</summary>
    internal long Expected { get; set; }

    internal long Consumed { get; set; }

    /// <summary>Payload length of a bulk whose header is read but whose payload has not arrived, -1 when none.</summary>
    internal long PendingLength { get; set; }

    /// <summary>Bytes of an inline line known to hold no line feed.</summary>
    internal long InlineChecked { get; set; }

    /// <summary>Argument <paramref name="index"/>: a slice of <see cref="Frame"/>, or of the decoded inline buffer.</summary>
    public ReadOnlySequence<byte> Argument(int index)
    {
        CheckIndex(index);
        return IsInline
            ? new ReadOnlySequence<byte>(_inline, (int)_offsets[index], _lengths[index])
            : Frame.Slice(_starts[index], _lengths[index]);
    }

    public int ArgumentLength(int index)
    {
        CheckIndex(index);
        return _lengths[index];
    }

    /// <summary>ASCII case-insensitive comparison with an upper-case literal such as <c>"GET"u8</c>.</summary>
    public bool ArgumentEquals(int index, ReadOnlySpan<byte> upperCaseAsciiLiteral)
    {
        CheckIndex(index);
        if (_lengths[index] != upperCaseAsciiLiteral.Length)
        {
            return false;
        }

        ReadOnlySequence<byte> argument = Argument(index);
        if (argument.IsSingleSegment)
        {
            return EqualsUpper(argument.FirstSpan, upperCaseAsciiLiteral);
        }

        foreach (ReadOnlyMemory<byte> segment in argument)
        {
            if (!EqualsUpper(segment.Span, upperCaseAsciiLiteral[..segment.Length]))
            {
                return false;
            }

            upperCaseAsciiLiteral = upperCaseAsciiLiteral[segment.Length..];
        }

        return true;
    }

    /// <summary>The argument as an integer, with Redis's rules (<c>string2ll</c>: no '+', no leading zeros).</summary>
    public bool TryGetArgumentInt64(int index, out long value)
    {
        CheckIndex(index);
        value = 0;
        if (_lengths[index] > 20)
        {
            return false;
        }

        Span<byte> buffer = stackalloc byte[20];
        ReadOnlySequence<byte> argument = Argument(index);
        argument.CopyTo(buffer);
        return RespNumber.TryParseStrictInt64(buffer[..(int)argument.Length], out value);
    }

    /// <summary>The argument as UTF-8 text; allocates, so for logs and the control plane only.</summary>
    public string ArgumentToString(int index) => Encoding.UTF8.GetString(Argument(index));

    /// <summary>Returns the pooled arrays; the request stays usable and rents again when needed.</summary>
    public void Dispose()
    {
        Return(ref _offsets);
        Return(ref _lengths);
        Return(ref _starts);
        Return(ref _inline);
        Return(ref _encoded);
        _encodedLength = -1;
        Count = 0;
        Frame = default;
        InProgress = false;
    }

    internal void Begin(bool isInline)
    {
        _encodedLength = -1;
        Count = 0;
        Frame = default;
        IsInline = isInline;
        InProgress = true;
        Expected = -1;
        Consumed = 0;
        PendingLength = -1;
        InlineChecked = 0;
    }

    internal void Clear()
    {
        Count = 0;
        Frame = default;
        InProgress = false;
    }

    internal void AddArgument(long offset, int length)
    {
        if (Count == _offsets.Length)
        {
            int capacity = Math.Max(InitialCapacity, Count * 2);
            Grow(ref _offsets, capacity, Count);
            Grow(ref _lengths, capacity, Count);
        }

        _offsets[Count] = offset;
        _lengths[Count] = length;
        Count++;
    }

    /// <summary>Turns the offsets of a complete RESP array into positions, walking the frame once.</summary>
    internal void Complete(ReadOnlySequence<byte> frame)
    {
        Frame = frame;
        InProgress = false;
        if (IsInline)
        {
            return;
        }

        if (_starts.Length < Count)
        {
            Return(ref _starts);
            _starts = ArrayPool<SequencePosition>.Shared.Rent(Math.Max(InitialCapacity, Count));
        }

        SequencePosition position = frame.Start;
        long previous = 0;
        for (int i = 0; i < Count; i++)
        {
            position = frame.GetPosition(_offsets[i] - previous, position);
            previous = _offsets[i];
            _starts[i] = position;
        }
    }

    private void EncodeInline()
    {
        // "*N\r\n" then "$len\r\n" + payload + "\r\n" per argument: 13 bytes of framing per argument at most.
        var needed = 16;
        for (var i = 0; i < Count; i++)
        {
            needed += _lengths[i] + 16;
        }

        if (_encoded.Length < needed)
        {
            Return(ref _encoded);
            _encoded = ArrayPool<byte>.Shared.Rent(Math.Max(256, needed));
        }

        var output = _encoded.AsSpan();
        var written = WriteHeader(output, (byte)'*', Count);
        for (var i = 0; i < Count; i++)
        {
            written += WriteHeader(output[written..], (byte)'$', _lengths[i]);
            _inline.AsSpan((int)_offsets[i], _lengths[i]).CopyTo(output[written..]);
            written += _lengths[i];
            output[written++] = (byte)'\r';
            output[written++] = (byte)'\n';
        }

        _encodedLength = written;

        static int WriteHeader(Span<byte> output, byte type, int value)
        {
            output[0] = type;
            _ = System.Buffers.Text.Utf8Formatter.TryFormat(value, output[1..], out var digits);
            output[1 + digits] = (byte)'\r';
            output[2 + digits] = (byte)'\n';
            return digits + 3;
        }
    }

    /// <summary>A buffer for an inline line and its decoded arguments (each no longer than the line).</summary>
    internal Span<byte> InlineBuffer(int lineLength)
    {
        int needed = lineLength * 2;
        if (_inline.Length < needed)
        {
            Return(ref _inline);
            _inline = ArrayPool<byte>.Shared.Rent(Math.Max(256, needed));
        }

        return _inline.AsSpan(0, needed);
    }

    private static bool EqualsUpper(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> upper)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            byte b = bytes[i];
            if ((uint)(b - 'a') <= 'z' - 'a')
            {
                b = (byte)(b & 0xDF);
            }

            if (b != upper[i])
            {
                return false;
            }
        }

        return true;
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, "No such argument.");
        }
    }

    private static void Grow<T>(ref T[] array, int capacity, int keep)
    {
        T[] grown = ArrayPool<T>.Shared.Rent(capacity);
        array.AsSpan(0, keep).CopyTo(grown);
        Return(ref array);
        array = grown;
    }

    private static void Return<T>(ref T[] array)
    {
        if (array.Length > 0)
        {
            ArrayPool<T>.Shared.Return(array);
        }

        array = [];
    }
}
