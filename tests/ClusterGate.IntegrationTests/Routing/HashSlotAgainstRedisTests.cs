using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ClusterGate.Core.Routing;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;

namespace ClusterGate.IntegrationTests.Routing;

/// <summary>
/// <see cref="HashSlot.Compute"/> against the real <c>CLUSTER KEYSLOT</c>. Keys travel as RESP bulk
/// strings over one raw socket (redis-cli arguments are not binary-safe), pipelined, and the integer
/// replies are read by a reader local to this test so no ClusterGate RESP code is involved.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class HashSlotAgainstRedisTests(RedisClusterFixture fixture)
{
    private const int RandomKeys = 12_000;
    private const int BatchSize = 1_000;

    private static readonly string[] SpecialKeys =
    [
        "", "{}", "{{a}}", "a{}b{c}", "{a}", "a{b", "}{a}", "{", "}", "}{", "{}{a}", "a{}", "{}a", "a{}{b}",
        "{a}{b}", "{{}}", "{{}}a", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{user1000}.following",
        "{user1000}.followers", "123456789", "foo", "{a\r\n}", "\0{\0}", "{\0}", "a{b}c{", "{}}", "{{}", "{ }",
    ];

    [Fact]
    public async Task Compute_RandomAndSpecialKeys_MatchesClusterKeyslot()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var keys = Keys(new Random(20240607));
        var port = fixture.Cluster.Nodes[0].Port;

        var expected = await KeyslotsAsync(port, keys, cts.Token);

        var mismatches = new List<string>();
        for (var i = 0; i < keys.Count; i++)
        {
            var actual = HashSlot.Compute(keys[i]);
            if (actual != expected[i])
            {
                mismatches.Add(string.Create(CultureInfo.InvariantCulture, $"key {Convert.ToHexString(keys[i])}: Compute={actual}, Redis={expected[i]}"));
            }
        }

        Assert.True(keys.Count >= 10_000);
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {keys.Count} keys differ:\n{string.Join('\n', mismatches.Take(20))}");
    }

    private static List<byte[]> Keys(Random random)
    {
        var keys = SpecialKeys.Select(Encoding.UTF8.GetBytes).ToList();
        byte[] alphabet = "{}\r\n\0ab"u8.ToArray();
        for (var i = 0; i < RandomKeys; i++)
        {
            var key = new byte[random.Next(0, 40)];
            switch (i % 3)
            {
                case 0:
                    // Printable ASCII, braces included.
                    for (var j = 0; j < key.Length; j++)
                    {
                        key[j] = (byte)random.Next(0x20, 0x7F);
                    }

                    break;
                case 1:
                    random.NextBytes(key);
                    break;
                default:
                    // Dense in the bytes that matter: braces, CR, LF, NUL.
                    for (var j = 0; j < key.Length; j++)
                    {
                        key[j] = alphabet[random.Next(alphabet.Length)];
                    }

                    break;
            }

            keys.Add(key);
        }

        return keys;
    }

    private static async Task<int[]> KeyslotsAsync(int port, List<byte[]> keys, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var reader = new IntegerReplyReader(stream);
        var slots = new int[keys.Count];
        for (var start = 0; start < keys.Count; start += BatchSize)
        {
            var count = Math.Min(BatchSize, keys.Count - start);
            using var request = new MemoryStream();
            for (var i = start; i < start + count; i++)
            {
                WriteKeyslot(request, keys[i]);
            }

            // Write the whole batch, then read its replies: a pipeline, bounded so neither side's buffers fill up.
            await stream.WriteAsync(request.GetBuffer().AsMemory(0, (int)request.Length), ct);
            for (var i = start; i < start + count; i++)
            {
                slots[i] = await reader.ReadIntegerAsync(ct);
            }
        }

        return slots;
    }

    private static void WriteKeyslot(MemoryStream request, byte[] key)
    {
        request.Write("*3\r\n$7\r\nCLUSTER\r\n$7\r\nKEYSLOT\r\n"u8);
        request.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"${key.Length}\r\n")));
        request.Write(key);
        request.Write("\r\n"u8);
    }

    /// <summary>Reads <c>:&lt;n&gt;\r\n</c> replies; anything else fails the test with what came back.</summary>
    private sealed class IntegerReplyReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public async Task<int> ReadIntegerAsync(CancellationToken ct)
        {
            while (true)
            {
                var pending = _buffer.AsSpan(_start, _end - _start);
                var lineEnd = pending.IndexOf("\r\n"u8);
                if (lineEnd >= 0)
                {
                    var line = Encoding.ASCII.GetString(pending[..lineEnd]);
                    _start += lineEnd + 2;
                    if (line.Length < 2 || line[0] != ':')
                    {
                        throw new InvalidDataException($"Expected an integer reply, got '{line}'.");
                    }

                    return int.Parse(line.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture);
                }

                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
                var read = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
                if (read == 0)
                {
                    throw new EndOfStreamException("The node closed the connection.");
                }

                _end += read;
            }
        }
    }
}
