using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace ClusterGate.Core.Resp;

/// <summary>Writes RESP values and commands into an <see cref="IBufferWriter{T}"/>.</summary>
public static class RespWriter
{
    /// <summary>Prefix byte, sign and 19 digits of a <see cref="long"/>, CRLF.</summary>
    private const int MaxNumberLine = 1 + 20 + 2;

    public static void WriteSimpleString(IBufferWriter<byte> writer, ReadOnlySpan<byte> text) => WriteLine(writer, (byte)'+', text);

    public static void WriteError(IBufferWriter<byte> writer, ReadOnlySpan<byte> message) => WriteLine(writer, (byte)'-', message);

    public static void WriteError(IBufferWriter<byte> writer, string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        WriteTextLine(writer, (byte)'-', message);
    }

    public static void WriteInteger(IBufferWriter<byte> writer, long value) => WriteNumberLine(writer, (byte)':', value);

    public static void WriteBulkString(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload) => WriteBlob(writer, (byte)'$', payload);

    public static void WriteBulkString(IBufferWriter<byte> writer, in ReadOnlySequence<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(writer);
        WriteNumberLine(writer, (byte)'$', payload.Length);
        foreach (ReadOnlyMemory<byte> segment in payload)
        {
            writer.Write(segment.Span);
        }

        writer.Write("\r\n"u8);
    }

    public static void WriteBulkString(IBufferWriter<byte> writer, string text)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(text);
        WriteNumberLine(writer, (byte)'$', Encoding.UTF8.GetByteCount(text));
        _ = Encoding.UTF8.GetBytes(text, writer);
        writer.Write("\r\n"u8);
    }

    public static void WriteNullBulk(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write("$-1\r\n"u8);
    }

    public static void WriteArrayHeader(IBufferWriter<byte> writer, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        WriteNumberLine(writer, (byte)'*', count);
    }

    public static void WriteNullArray(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write("*-1\r\n"u8);
    }

    /// <summary>A command as clients send it: an array of bulk strings (UTF-8).</summary>
    public static void WriteCommand(IBufferWriter<byte> writer, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        WriteArrayHeader(writer, args.Length);
        foreach (string arg in args)
        {
            WriteBulkString(writer, arg);
        }
    }

    public static void WriteCommand(IBufferWriter<byte> writer, ReadOnlySpan<byte> name)
    {
        WriteArrayHeader(writer, 1);
        WriteBulkString(writer, name);
    }

    public static void WriteCommand(IBufferWriter<byte> writer, ReadOnlySpan<byte> name, ReadOnlySpan<byte> arg1)
    {
        WriteArrayHeader(writer, 2);
        WriteBulkString(writer, name);
        WriteBulkString(writer, arg1);
    }

    public static void WriteCommand(IBufferWriter<byte> writer, ReadOnlySpan<byte> name, ReadOnlySpan<byte> arg1, ReadOnlySpan<byte> arg2)
    {
        WriteArrayHeader(writer, 3);
        WriteBulkString(writer, name);
        WriteBulkString(writer, arg1);
        WriteBulkString(writer, arg2);
    }

    /// <summary>Writes any value, its attribute first; the output reads back equal with <see cref="RespValue.TryRead"/>.</summary>
    public static void WriteValue(IBufferWriter<byte> writer, RespValue value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        if (value.Attribute is { } attribute)
        {
            WriteValue(writer, attribute);
        }

        switch (value.Type)
        {
            case RespType.Null:
                writer.Write("_\r\n"u8);
                break;
            case RespType.BulkString when value.IsNull:
                WriteNullBulk(writer);
                break;
            case RespType.Array when value.IsNull:
                WriteNullArray(writer);
                break;
            case RespType.SimpleString or RespType.Error or RespType.BigNumber:
                WriteLine(writer, (byte)value.Type, value.Bytes.Span);
                break;
            case RespType.BulkString or RespType.BulkError or RespType.Verbatim:
                WriteBlob(writer, (byte)value.Type, value.Bytes.Span);
                break;
            case RespType.Integer:
                WriteNumberLine(writer, (byte)':', value.Integer);
                break;
            case RespType.Boolean:
                writer.Write(value.Boolean ? "#t\r\n"u8 : "#f\r\n"u8);
                break;
            case RespType.Double:
                WriteLine(writer, (byte)',', value.Bytes.IsEmpty ? RespValue.FormatDouble(value.Double) : value.Bytes.Span);
                break;
            case RespType.Map or RespType.Attribute:
                WriteAggregate(writer, (byte)value.Type, value.ItemSpan.Length / 2, value.ItemSpan);
                break;
            default:
                WriteAggregate(writer, (byte)value.Type, value.ItemSpan.Length, value.ItemSpan);
                break;
        }
    }

    private static void WriteAggregate(IBufferWriter<byte> writer, byte prefix, int count, ReadOnlySpan<RespValue> items)
    {
        WriteNumberLine(writer, prefix, count);
        foreach (RespValue item in items)
        {
            WriteValue(writer, item);
        }
    }

    private static void WriteBlob(IBufferWriter<byte> writer, byte prefix, ReadOnlySpan<byte> payload)
    {
        WriteNumberLine(writer, prefix, payload.Length);
        writer.Write(payload);
        writer.Write("\r\n"u8);
    }

    private static void WriteLine(IBufferWriter<byte> writer, byte prefix, ReadOnlySpan<byte> text)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (text.IndexOfAny((byte)'\r', (byte)'\n') >= 0)
        {
            throw new ArgumentException("A simple string, error or number line cannot hold CR or LF.", nameof(text));
        }

        Span<byte> span = writer.GetSpan(text.Length + 3);
        span[0] = prefix;
        text.CopyTo(span[1..]);
        span[text.Length + 1] = (byte)'\r';
        span[text.Length + 2] = (byte)'\n';
        writer.Advance(text.Length + 3);
    }

    private static void WriteTextLine(IBufferWriter<byte> writer, byte prefix, string text)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (text.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException("A simple string or error line cannot hold CR or LF.", nameof(text));
        }

        writer.Write([prefix]);
        _ = Encoding.UTF8.GetBytes(text, writer);
        writer.Write("\r\n"u8);
    }

    private static void WriteNumberLine(IBufferWriter<byte> writer, byte prefix, long value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> span = writer.GetSpan(MaxNumberLine);
        span[0] = prefix;
        _ = Utf8Formatter.TryFormat(value, span[1..], out int written);
        span[written + 1] = (byte)'\r';
        span[written + 2] = (byte)'\n';
        writer.Advance(written + 3);
    }
}
