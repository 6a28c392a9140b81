using System.Text;
using ClusterGate.Core.Resp;
using FsCheck;
using FsCheck.Fluent;

namespace ClusterGate.Core.UnitTests.Resp;

/// <summary>FsCheck generators of RESP values of every type, with binary payloads (CR and LF inside bulks).</summary>
internal static class RespGenerators
{
    private static readonly Gen<byte> AnyByte = Gen.Frequency(
        (3, Gen.Choose(0, 255).Select(static b => (byte)b)),
        (1, Gen.Elements((byte)'\r', (byte)'\n', (byte)'$', (byte)'*', (byte)'0')));

    private static readonly Gen<byte> LineByte = AnyByte.Where(static b => b is not (byte)'\r' and not (byte)'\n');

    private static readonly Gen<byte[]> Payload = Gen.Choose(0, 24).SelectMany(n => Gen.ArrayOf(AnyByte, n));

    private static readonly Gen<byte[]> LineText = Gen.Choose(0, 16).SelectMany(n => Gen.ArrayOf(LineByte, n));

    private static readonly Gen<RespValue> Leaf = Gen.OneOf(
        LineText.Select(static b => RespValue.Simple(Latin(b))),
        LineText.Select(static b => RespValue.Error(Latin(b))),
        Payload.Select(static b => RespValue.Bulk(b)),
        Payload.Select(static b => RespValue.Bulk(b)),
        LineText.Select(static b => RespValue.BulkError(Latin(b))),
        LineText.Select(static b => RespValue.Verbatim("txt", Latin(b))),
        ArbMap.Default.GeneratorFor<long>().Select(RespValue.Int),
        Gen.Elements(long.MinValue, long.MaxValue, 0L, -1L).Select(RespValue.Int),
        ArbMap.Default.GeneratorFor<double>().Select(RespValue.FromDouble),
        Gen.Elements(true, false).Select(RespValue.FromBoolean),
        Gen.Zip(Gen.Elements("", "-", "+"), Gen.Choose(0, int.MaxValue)).Select(static t => RespValue.BigNumber(t.Item1 + t.Item2 + "1234567890123456789")),
        Gen.Elements(RespValue.Null, RespValue.NullBulk, RespValue.NullArray));

    public static Gen<RespValue> Value { get; } = ValueOfDepth(3);

    /// <summary>One to four values, to be written back to back.</summary>
    public static Gen<RespValue[]> Values { get; } = Gen.Choose(1, 4).SelectMany(n => Gen.ArrayOf(Value, n));

    /// <summary>Bytes that look like RESP often enough to reach deep into the scanner.</summary>
    public static Gen<byte[]> ProtocolNoise { get; } = Gen.Choose(0, 40).SelectMany(n => Gen.ArrayOf(
        Gen.Frequency(
            (4, Gen.Elements("*$+-:,#_%~>|!=(\r\n0123456789-1tfinax\"' \\"u8.ToArray())),
            (1, Gen.Choose(0, 255).Select(static b => (byte)b))),
        n));

    private static Gen<RespValue> ValueOfDepth(int depth)
    {
        if (depth == 0)
        {
            return Leaf;
        }

        Gen<RespValue> child = ValueOfDepth(depth - 1);
        Gen<RespValue[]> items = Gen.Choose(0, 4).SelectMany(n => Gen.ArrayOf(child, n));
        Gen<RespValue[]> pairs = Gen.Choose(0, 3).SelectMany(n => Gen.ArrayOf(child, n * 2));
        Gen<RespValue> plain = Gen.Frequency(
            (4, Leaf),
            (1, items.Select(static i => RespValue.Array(i))),
            (1, items.Select(static i => RespValue.Set(i))),
            (1, items.Select(static i => RespValue.Push(i))),
            (1, pairs.Select(static p => RespValue.Map(p))));
        return Gen.Frequency(
            (5, plain),
            (1, Gen.Zip(plain, Gen.Choose(1, 2).SelectMany(n => Gen.ArrayOf(Leaf, n * 2)))
                .Select(static t => t.Item1.WithAttribute(RespValue.AttributeMap(t.Item2)))));
    }

    /// <summary>Bytes 0..255 as chars 0..255, so any byte except CR/LF survives a UTF-8 round trip as text.</summary>
    private static string Latin(byte[] bytes) => Encoding.Latin1.GetString(bytes);
}
