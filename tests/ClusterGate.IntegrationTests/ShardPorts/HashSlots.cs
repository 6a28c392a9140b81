using System.Globalization;
using System.Text;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>
/// Redis Cluster key slots (CRC16/XMODEM mod 16384 with the <c>{tag}</c> rule), written here
/// independently of the gateway's own hashing, which is what the tests exercise.
/// </summary>
internal static class HashSlots
{
    public static int Of(string key)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        var open = Array.IndexOf(bytes, (byte)'{');
        if (open >= 0)
        {
            var close = Array.IndexOf(bytes, (byte)'}', open + 1);
            if (close > open + 1)
            {
                return Crc16(bytes.AsSpan(open + 1, close - open - 1)) % 16384;
            }
        }

        return Crc16(bytes) % 16384;
    }

    /// <summary>A hash tag (without braces) whose slot satisfies <paramref name="accept"/>.</summary>
    public static string TagWhere(Func<int, bool> accept, string prefix = "t")
    {
        for (var i = 0; i < 1_000_000; i++)
        {
            var tag = prefix + i.ToString(CultureInfo.InvariantCulture);
            if (accept(Of(tag)))
            {
                return tag;
            }
        }

        throw new InvalidOperationException("No hash tag found for the requested slots.");
    }

    private static int Crc16(ReadOnlySpan<byte> data)
    {
        var crc = 0;
        foreach (var b in data)
        {
            crc ^= b << 8;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }
        }

        return crc & 0xFFFF;
    }
}
