using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace ClusterGate.Core.Resp;

/// <summary>
/// A materialized RESP2/RESP3 value with copied payloads, for the control plane and tests. The data plane never
/// builds these: it scans frames and forwards the original bytes.
/// </summary>
public sealed class RespValue : IEquatable<RespValue>
{
    private static readonly RespValue[] NoItems = [];

    private readonly RespValue[] _items;

    private RespValue(RespType type, bool isNull = false, ReadOnlyMemory<byte> bytes = default, long integer = 0,
        bool boolean = false, double number = 0, RespValue[]? items = null, RespValue? attribute = null)
    {
        Type = type;
        IsNull = isNull;
        Bytes = bytes;
        Integer = integer;
        Boolean = boolean;
        Double = number;
        _items = items ?? NoItems;
        Attribute = attribute;
    }

    /// <summary>RESP3 null (<c>_</c>).</summary>
    public static RespValue Null { get; } = new(RespType.Null, isNull: true);

    /// <summary>RESP2 null bulk string (<c>$-1</c>).</summary>
    public static RespValue NullBulk { get; } = new(RespType.BulkString, isNull: true);

    /// <summary>RESP2 null array (<c>*-1</c>).</summary>
    public static RespValue NullArray { get; } = new(RespType.Array, isNull: true);

    public RespType Type { get; }

    /// <summary>RESP3 <c>_</c>, or RESP2 <c>$-1</c> / <c>*-1</c>.</summary>
    public bool IsNull { get; }

    /// <summary>
    /// Payload of simple string, error, bulk string, bulk error, verbatim (with its <c>txt:</c> prefix), big number
    /// and the text of a double; empty otherwise.
    /// </summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "RESP type name.")]
    public long Integer { get; }

    public bool Boolean { get; }

    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "RESP type name.")]
    public double Double { get; }

    /// <summary>Elements of an array, set or push; keys and values alternating for a map or attribute.</summary>
    public IReadOnlyList<RespValue> Items => _items;

    /// <summary>The attribute map sent before this value, if any.</summary>
    public RespValue? Attribute { get; }

    public static RespValue Simple(string text) => new(RespType.SimpleString, bytes: Utf8(text));

    public static RespValue Error(string message) => new(RespType.Error, bytes: Utf8(message));

    public static RespValue Bulk(string text) => new(RespType.BulkString, bytes: Utf8(text));

    public static RespValue Bulk(ReadOnlySpan<byte> payload) => new(RespType.BulkString, bytes: payload.ToArray());

    public static RespValue BulkError(string message) => new(RespType.BulkError, bytes: Utf8(message));

    /// <summary>A verbatim string; <paramref name="format"/> is the three-letter encoding such as <c>txt</c>.</summary>
    public static RespValue Verbatim(string format, string text)
    {
        ArgumentNullException.ThrowIfNull(format);
        if (Encoding.UTF8.GetByteCount(format) != 3)
        {
            throw new ArgumentException("The format of a verbatim string is three bytes.", nameof(format));
        }

        return new(RespType.Verbatim, bytes: Utf8(format + ":" + text));
    }

    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "RESP type name.")]
    public static RespValue Int(long value) => new(RespType.Integer, integer: value);

    public static RespValue FromDouble(double value) => new(RespType.Double, bytes: FormatDouble(value), number: value);

    public static RespValue FromBoolean(bool value) => new(RespType.Boolean, boolean: value);

    /// <summary>A big number from its decimal text (optional sign, digits).</summary>
    public static RespValue BigNumber(string digits)
    {
        byte[] bytes = Utf8(digits);
        if (!IsBigNumber(bytes))
        {
            throw new ArgumentException("A big number is an optional sign and at least one digit.", nameof(digits));
        }

        return new(RespType.BigNumber, bytes: bytes);
    }

    public static RespValue Array(params RespValue[] items) => new(RespType.Array, items: CopyItems(items));

    public static RespValue Set(params RespValue[] items) => new(RespType.Set, items: CopyItems(items));

    public static RespValue Push(params RespValue[] items) => new(RespType.Push, items: CopyItems(items));

    /// <summary>A map from keys and values alternating.</summary>
    public static RespValue Map(params RespValue[] keysAndValues) => new(RespType.Map, items: CopyPairs(keysAndValues));

    /// <summary>An attribute map from keys and values alternating; attach it with <see cref="WithAttribute"/>.</summary>
    public static RespValue AttributeMap(params RespValue[] keysAndValues) => new(RespType.Attribute, items: CopyPairs(keysAndValues));

    /// <summary>This value preceded by <paramref name="attribute"/> (an <see cref="RespType.Attribute"/> map).</summary>
    public RespValue WithAttribute(RespValue? attribute)
    {
        if (attribute is not null && attribute.Type != RespType.Attribute)
        {
            throw new ArgumentException("An attribute is an attribute map.", nameof(attribute));
        }

        return new(Type, IsNull, Bytes, Integer, Boolean, Double, _items, attribute);
    }

    /// <summary>The payload as UTF-8 text; the number for integers, doubles and booleans; elements joined for aggregates.</summary>
    public string AsString() => Type switch
    {
        _ when IsNull => string.Empty,
        RespType.Integer => Integer.ToString(CultureInfo.InvariantCulture),
        RespType.Boolean => Boolean ? "true" : "false",
        RespType.Array or RespType.Set or RespType.Push or RespType.Map or RespType.Attribute =>
            string.Join(' ', _items.Select(static item => item.AsString())),
        _ => Encoding.UTF8.GetString(Bytes.Span),
    };

    /// <summary>
    /// Reads one whole frame (validated by <see cref="RespFrameScanner"/> first) and copies it into a value. The
    /// reader moves only on <see cref="RespScanStatus.Complete"/>.
    /// </summary>
    public static RespScanStatus TryRead(ref SequenceReader<byte> reader, RespLimits limits, out RespValue? value, out string? error)
    {
        value = null;
        SequenceReader<byte> scan = reader;
        RespScanState state = default;
        RespScanStatus status = RespFrameScanner.TryScan(ref scan, limits, ref state, out error);
        if (status != RespScanStatus.Complete)
        {
            return status;
        }

        ReadOnlySequence<byte> frame = reader.UnreadSequence.Slice(0, scan.Consumed - reader.Consumed);
        var frameReader = new SequenceReader<byte>(frame);
        value = ReadValue(ref frameReader, attribute: null);
        reader = scan;
        return RespScanStatus.Complete;
    }

    public bool Equals(RespValue? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (other is null || Type != other.Type || IsNull != other.IsNull || !Equals(Attribute, other.Attribute))
        {
            return false;
        }

        return Type switch
        {
            _ when IsNull => true,
            RespType.Integer => Integer == other.Integer,
            RespType.Boolean => Boolean == other.Boolean,
            RespType.Double => Double.Equals(other.Double),
            RespType.Null => true,
            RespType.Array or RespType.Set or RespType.Push or RespType.Map or RespType.Attribute =>
                _items.AsSpan().SequenceEqual(other._items),
            _ => Bytes.Span.SequenceEqual(other.Bytes.Span),
        };
    }

    public override bool Equals(object? obj) => Equals(obj as RespValue);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Type);
        hash.Add(IsNull);
        switch (Type)
        {
            case RespType.Integer:
                hash.Add(Integer);
                break;
            case RespType.Boolean:
                hash.Add(Boolean);
                break;
            case RespType.Double:
                hash.Add(Double);
                break;
            default:
                hash.AddBytes(Bytes.Span);
                hash.Add(_items.Length);
                break;
        }

        return hash.ToHashCode();
    }

    /// <summary>A readable rendering for test failures and logs.</summary>
    public override string ToString()
    {
        string prefix = Attribute is null ? string.Empty : $"{Attribute} ";
        string body = Type switch
        {
            _ when IsNull => $"{Type}(null)",
            RespType.Integer => $"Integer({Integer})",
            RespType.Boolean => $"Boolean({Boolean})",
            RespType.Double => $"Double({Double.ToString(CultureInfo.InvariantCulture)})",
            RespType.Null => "Null",
            RespType.Array or RespType.Set or RespType.Push or RespType.Map or RespType.Attribute =>
                $"{Type}[{string.Join(", ", _items.Select(static item => item.ToString()))}]",
            _ => $"{Type}(\"{Escape(Bytes.Span)}\")",
        };
        return prefix + body;
    }

    internal ReadOnlySpan<RespValue> ItemSpan => _items;

    internal static bool IsBigNumber(ReadOnlySpan<byte> text)
    {
        ReadOnlySpan<byte> digits = text.Length > 0 && (text[0] == '-' || text[0] == '+') ? text[1..] : text;
        return !digits.IsEmpty && digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0;
    }

    internal static byte[] FormatDouble(double value)
    {
        if (double.IsPositiveInfinity(value))
        {
            return "inf"u8.ToArray();
        }

        if (double.IsNegativeInfinity(value))
        {
            return "-inf"u8.ToArray();
        }

        if (double.IsNaN(value))
        {
            return "nan"u8.ToArray();
        }

        Span<byte> buffer = stackalloc byte[32];
        _ = value.TryFormat(buffer, out int written, "R", CultureInfo.InvariantCulture);
        return buffer[..written].ToArray();
    }

    private static RespValue ReadValue(ref SequenceReader<byte> reader, RespValue? attribute)
    {
        _ = reader.TryRead(out byte prefix);
        var type = (RespType)prefix;
        switch (type)
        {
            case RespType.SimpleString or RespType.Error or RespType.BigNumber:
                return new(type, bytes: ReadLine(ref reader).ToArray(), attribute: attribute);
            case RespType.Integer:
            {
                Span<byte> buffer = stackalloc byte[RespNumber.MaxLineLength];
                _ = RespNumber.TryParseInteger(buffer[..ReadShortLine(ref reader, buffer)], complete: true, out long integer);
                return new(type, integer: integer, attribute: attribute);
            }

            case RespType.Double:
            {
                byte[] text = ReadLine(ref reader).ToArray();
                _ = RespNumber.TryParseDouble(text, complete: true, out double number);
                return new(type, bytes: text, number: number, attribute: attribute);
            }

            case RespType.Boolean:
            {
                Span<byte> buffer = stackalloc byte[RespNumber.MaxLineLength];
                return new(type, boolean: ReadShortLine(ref reader, buffer) == 1 && buffer[0] == 't', attribute: attribute);
            }

            case RespType.Null:
                _ = ReadLine(ref reader);
                return new(type, isNull: true, attribute: attribute);
            case RespType.BulkString or RespType.BulkError or RespType.Verbatim:
            {
                long length = ReadLength(ref reader);
                if (length < 0)
                {
                    return new(type, isNull: true, attribute: attribute);
                }

                byte[] payload = reader.UnreadSequence.Slice(0, length).ToArray();
                reader.Advance(length + 2);
                return new(type, bytes: payload, attribute: attribute);
            }

            case RespType.Attribute:
            {
                RespValue[] pairs = ReadItems(ref reader, ReadLength(ref reader) * 2);
                return ReadValue(ref reader, new RespValue(RespType.Attribute, items: pairs));
            }

            default:
            {
                long count = ReadLength(ref reader);
                if (count < 0)
                {
                    return new(type, isNull: true, attribute: attribute);
                }

                return new(type, items: ReadItems(ref reader, type == RespType.Map ? count * 2 : count), attribute: attribute);
            }
        }
    }

    private static RespValue[] ReadItems(ref SequenceReader<byte> reader, long count)
    {
        if (count == 0)
        {
            return NoItems;
        }

        var items = new RespValue[count];
        for (long i = 0; i < count; i++)
        {
            items[i] = ReadValue(ref reader, attribute: null);
        }

        return items;
    }

    private static long ReadLength(ref SequenceReader<byte> reader)
    {
        Span<byte> buffer = stackalloc byte[RespNumber.MaxLineLength];
        _ = RespNumber.TryParseLength(buffer[..ReadShortLine(ref reader, buffer)], complete: true, allowNull: true, long.MaxValue, out long length);
        return length;
    }

    private static int ReadShortLine(ref SequenceReader<byte> reader, scoped Span<byte> buffer)
    {
        ReadOnlySequence<byte> line = ReadLine(ref reader);
        line.CopyTo(buffer);
        return (int)line.Length;
    }

    private static ReadOnlySequence<byte> ReadLine(ref SequenceReader<byte> reader)
    {
        _ = reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8);
        return line;
    }

    private static byte[] Utf8(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Encoding.UTF8.GetBytes(text);
    }

    private static RespValue[] CopyItems(RespValue[] items)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (RespValue item in items)
        {
            ArgumentNullException.ThrowIfNull(item, nameof(items));
        }

        return items.Length == 0 ? NoItems : (RespValue[])items.Clone();
    }

    private static RespValue[] CopyPairs(RespValue[] keysAndValues)
    {
        ArgumentNullException.ThrowIfNull(keysAndValues);
        if (keysAndValues.Length % 2 != 0)
        {
            throw new ArgumentException("A map needs keys and values alternating.", nameof(keysAndValues));
        }

        return CopyItems(keysAndValues);
    }

    private static string Escape(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
        {
            _ = b switch
            {
                (byte)'\r' => text.Append("\\r"),
                (byte)'\n' => text.Append("\\n"),
                (byte)'"' => text.Append("\\\""),
                (byte)'\\' => text.Append("\\\\"),
                >= 0x20 and < 0x7F => text.Append((char)b),
                _ => text.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}"),
            };
        }

        return text.ToString();
    }
}
