using System.Buffers;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;
using Xunit;

namespace ClusterGate.Core.UnitTests.Frontends.Rewrite;

/// <summary>The lab's nodes in the captures (see Captures/README.md): ports 7600-7605, bus ports 7700-7705.</summary>
internal static class Lab
{
    public const string A = "0dadd00222a5e46e239a5a86623edce37e668763"; // 7600, master 0-5460, crashes later
    public const string B = "3fb23e08c6ed28debc8b74273a8a06620b613445"; // 7601, master 5461-10922
    public const string C = "c7cb87412e01e9ddfe18900d2932957274b925ec"; // 7602, master 10923-16383
    public const string D = "f248a31f8ff237ca461858daad47a735b95d0b7a"; // 7603, replica of B
    public const string E = "e8483c2301153d436f17503e6e57d05ac169209d"; // 7604, replica of C
    public const string F = "80c96109eae37a212fbef2f2acef513808b75f2b"; // 7605, replica of A, promoted
    public const string H = "3a4a0a79cf150ff88b1ca2bd2bd76cb990eee1a7"; // lone node announcing only node-a.example:7690

    /// <summary>Fails when any address or port of a real node is left in the bytes a client would get.</summary>
    public static void AssertNoNodeAddress(byte[] wire)
    {
        string text = Encoding.UTF8.GetString(wire);
        Assert.DoesNotContain("127.0.0.1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node-a.example", text, StringComparison.Ordinal);

        // ":76" catches both "ip:7601" in text and the RESP integer ":7601".
        Assert.DoesNotContain(":76", text, StringComparison.Ordinal);
    }
}

/// <summary>A pure stand-in for the shard-port table: the given masters get 10.0.0.1:7100+i, every other node null.</summary>
internal sealed class FakeGateway
{
    public const string Host = "10.0.0.1";
    public const int FirstPort = 7100;

    private readonly Dictionary<string, NodeEndpoint> _byId = [];

    public FakeGateway(params string[] exposedIds)
    {
        for (int i = 0; i < exposedIds.Length; i++)
        {
            _byId[exposedIds[i]] = new NodeEndpoint(Host, FirstPort + i);
        }
    }

    public List<(string? Id, NodeEndpoint Announced)> Calls { get; } = [];

    public GatewayAddressMap Map => (id, announced) =>
    {
        Calls.Add((id, announced));
        return id is not null && _byId.TryGetValue(id, out NodeEndpoint gateway) ? gateway : null;
    };

    public static NodeEndpoint Port(int index) => new(Host, FirstPort + index);
}

/// <summary>Reads captures and values with the production RESP reader and writer.</summary>
internal static class Wire
{
    public static RespValue ReadCapture(string name) =>
        Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Captures", name)));

    public static RespValue Parse(byte[] wire)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire));
        RespScanStatus status = RespValue.TryRead(ref reader, RespLimits.Default, out RespValue? value, out string? error);
        Assert.True(status == RespScanStatus.Complete, $"{status}: {error}");
        Assert.True(reader.End, "bytes left after the frame");
        return value!;
    }

    public static byte[] Write(RespValue value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        RespWriter.WriteValue(buffer, value);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the value as a client would get it and reads it back: the output must re-parse, equal.</summary>
    public static byte[] AssertRoundTrips(RespValue value)
    {
        byte[] wire = Write(value);
        Assert.Equal(value, Parse(wire));
        return wire;
    }

    /// <summary>Alternating keys and values as text keys, for map and flat-array lookups in assertions.</summary>
    public static RespValue Get(RespValue pairs, string key)
    {
        for (int i = 0; i + 1 < pairs.Items.Count; i += 2)
        {
            if (pairs.Items[i].AsString() == key)
            {
                return pairs.Items[i + 1];
            }
        }

        throw new KeyNotFoundException(key);
    }

    public static IEnumerable<string> Keys(RespValue pairs)
    {
        for (int i = 0; i < pairs.Items.Count; i += 2)
        {
            yield return pairs.Items[i].AsString();
        }
    }
}

/// <summary>A multi-segment buffer built on purpose, split where the test says.</summary>
internal sealed class Segment : ReadOnlySequenceSegment<byte>
{
    private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Split(byte[] bytes, int at)
    {
        var first = new Segment(bytes.AsMemory(0, at), 0);
        var second = new Segment(bytes.AsMemory(at), at);
        first.Next = second;
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }
}
