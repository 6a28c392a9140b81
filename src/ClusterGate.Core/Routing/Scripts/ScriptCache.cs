using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Routing.Scripts;

/// <summary>
/// The bodies of the Lua scripts clients sent through the gateway (EVAL, EVAL_RO, SCRIPT LOAD), by their SHA1, so
/// that an EVALSHA answered <c>-NOSCRIPT</c> by a master that never saw the script (a replica promoted by a failover:
/// Redis does not replicate its script cache) can load it there and run again. Bounded by the total size of the bodies;
/// past it the oldest are forgotten, and their EVALSHA gets Redis's NOSCRIPT as a direct connection would.
/// </summary>
internal sealed class ScriptCache
{
    private readonly ConcurrentDictionary<string, byte[]> _bodies = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private readonly long _maxBytes;
    private long _bytes;

    public ScriptCache(long maxBytes) => _maxBytes = maxBytes;

    public int Count => _bodies.Count;

    /// <summary>Where a command carries a script body (EVAL, EVAL_RO, SCRIPT LOAD), or -1.</summary>
    public static int BodyArgument(string command) => command switch
    {
        "eval" or "eval_ro" => 1,
        "script|load" => 2,
        _ => -1,
    };

    /// <summary>Where a command names a script by its SHA1 (EVALSHA, EVALSHA_RO), or -1.</summary>
    public static int ShaArgument(string command) => command is "evalsha" or "evalsha_ro" ? 1 : -1;

    /// <summary>Remembers <paramref name="body"/> (a script body as sent) under its SHA1.</summary>
    public void Remember(in ReadOnlySequence<byte> body)
    {
        if (body.Length > _maxBytes / 4)
        {
            return;
        }

        var bytes = body.ToArray();
        var sha = Sha1Hex(bytes);
        if (_bodies.ContainsKey(sha) || !_bodies.TryAdd(sha, bytes))
        {
            return;
        }

        _order.Enqueue(sha);
        if (Interlocked.Add(ref _bytes, bytes.Length) <= _maxBytes)
        {
            return;
        }

        while (Volatile.Read(ref _bytes) > _maxBytes && _order.TryDequeue(out var oldest))
        {
            if (_bodies.TryRemove(oldest, out var removed))
            {
                Interlocked.Add(ref _bytes, -removed.Length);
            }
        }
    }

    /// <summary>
    /// <c>SCRIPT LOAD body</c> for the script named by <paramref name="sha"/> (as a client gives it, any case), or null
    /// when the gateway never saw its body.
    /// </summary>
    public byte[]? LoadCommand(in ReadOnlySequence<byte> sha)
    {
        if (sha.Length != 40 || !_bodies.TryGetValue(Encoding.ASCII.GetString(sha).ToLowerInvariant(), out var body))
        {
            return null;
        }

        var writer = new ArrayBufferWriter<byte>(body.Length + 40);
        RespWriter.WriteArrayHeader(writer, 3);
        RespWriter.WriteBulkString(writer, "SCRIPT");
        RespWriter.WriteBulkString(writer, "LOAD");
        RespWriter.WriteBulkString(writer, body.AsSpan());
        return writer.WrittenSpan.ToArray();
    }

    private static string Sha1Hex(byte[] body)
    {
        // The name Redis gives a script; SHA1 is its protocol, not a security choice here.
#pragma warning disable CA5350
        return Convert.ToHexStringLower(SHA1.HashData(body));
#pragma warning restore CA5350
    }
}
