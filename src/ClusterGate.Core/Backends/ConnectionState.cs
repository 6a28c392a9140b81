using System.Buffers;
using System.Text;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Backends;

/// <summary>
/// The connection state a client built on its backend connection (AUTH, HELLO, SELECT, CLIENT
/// SETNAME, READONLY, subscriptions, MULTI, MONITOR). Recorded from successful replies, so only what
/// Redis accepted is replayed on the next master. Touched by the pump, and by the client loop only
/// while the pump has no backend.
/// </summary>
internal sealed class ConnectionState
{
    private readonly Lock _gate = new();
    private readonly HashSet<string> _channels = new(StringComparer.Ordinal);
    private readonly HashSet<string> _patterns = new(StringComparer.Ordinal);
    private readonly HashSet<string> _shardChannels = new(StringComparer.Ordinal);
    private byte[]? _auth;
    private int _resets;
    private byte[]? _hello;
    private byte[]? _select;
    private byte[]? _setName;
    private bool _readOnly;
    private int _subscriptionCount;

    public bool InMulti { get; set; }

    /// <summary>A failover cut a MULTI short: answer until EXEC/DISCARD locally.</summary>
    public bool MultiAborted { get; set; }

    public bool Monitoring { get; private set; }

    /// <summary>Read for every reply frame, so kept as a plain field updated under the lock.</summary>
    public bool HasSubscriptions => Volatile.Read(ref _subscriptionCount) > 0;

    public int UnsubscribeAllReplies(CommandKind kind)
    {
        lock (_gate)
        {
            var count = kind switch
            {
                CommandKind.Unsubscribe => _channels.Count,
                CommandKind.PUnsubscribe => _patterns.Count,
                _ => _shardChannels.Count,
            };
            return Math.Max(1, count);
        }
    }

    /// <summary>
    /// The client authenticated on this connection itself: its AUTH (or HELLO, which it may send only with AUTH then)
    /// succeeded, and no RESET since. False while fewer than <paramref name="resetsSent"/> RESETs have been answered
    /// (what was recorded before them no longer holds).
    /// </summary>
    public bool ClientAuthenticated(int resetsSent)
    {
        lock (_gate)
        {
            return _resets == resetsSent && (_auth is not null || _hello is not null);
        }
    }

    /// <summary>Records what a successful reply proves about the connection.</summary>
    public void Apply(CommandKind kind, ReadOnlySpan<byte> request, in ReadOnlySequence<byte> reply, ref bool quitReplied)
    {
        switch (kind)
        {
            case CommandKind.Normal:
            case CommandKind.ClusterNodes:
            case CommandKind.ClusterSlots:
            case CommandKind.ClusterShards:
                return;
            case CommandKind.Auth:
                lock (_gate)
                {
                    _auth = request.ToArray();
                }

                return;
            case CommandKind.Hello:
                lock (_gate)
                {
                    _hello = request.ToArray();
                }

                return;
            case CommandKind.Select:
                lock (_gate)
                {
                    _select = request.ToArray();
                }

                return;
            case CommandKind.ClientSetName:
                lock (_gate)
                {
                    _setName = request.ToArray();
                }

                return;
            case CommandKind.ReadOnly:
                _readOnly = true;
                return;
            case CommandKind.ReadWrite:
                _readOnly = false;
                return;
            case CommandKind.Multi:
                InMulti = true;
                return;
            case CommandKind.Exec:
            case CommandKind.Discard:
                InMulti = false;
                return;
            case CommandKind.Monitor:
                Monitoring = true;
                return;
            case CommandKind.Quit:
                quitReplied = true;
                return;
            case CommandKind.Reset:
                lock (_gate)
                {
                    _resets++;
                    _auth = _hello = _select = _setName = null;
                    _readOnly = false;
                    _channels.Clear();
                    _patterns.Clear();
                    _shardChannels.Clear();
                    Volatile.Write(ref _subscriptionCount, 0);
                    InMulti = MultiAborted = Monitoring = false;
                }

                return;
            default:
                ApplySubscription(reply);
                return;
        }
    }

    /// <summary>Redis ended a shard channel's subscription on its own (its slot moved): not replayed any more.</summary>
    public void ForgetShardChannel(string channel)
    {
        lock (_gate)
        {
            _shardChannels.Remove(channel);
            Volatile.Write(ref _subscriptionCount, _channels.Count + _patterns.Count + _shardChannels.Count);
        }
    }

    private void ApplySubscription(in ReadOnlySequence<byte> reply)
    {
        var reader = new SequenceReader<byte>(reply);
        if (RespValue.TryRead(ref reader, RespLimits.Default, out var value, out _) != RespScanStatus.Complete
            || value is null || value.Items.Count < 2 || value.Items[1].IsNull)
        {
            return;
        }

        var kind = value.Items[0].AsString();
        var channel = Encoding.Latin1.GetString(value.Items[1].Bytes.Span);
        lock (_gate)
        {
            _ = kind switch
            {
                "subscribe" => _channels.Add(channel),
                "unsubscribe" => _channels.Remove(channel),
                "psubscribe" => _patterns.Add(channel),
                "punsubscribe" => _patterns.Remove(channel),
                "ssubscribe" => _shardChannels.Add(channel),
                "sunsubscribe" => _shardChannels.Remove(channel),
                _ => false,
            };
            Volatile.Write(ref _subscriptionCount, _channels.Count + _patterns.Count + _shardChannels.Count);
        }
    }

    /// <summary>The backend is gone: a transaction in progress cannot continue on the next one.</summary>
    public void OnBackendLost()
    {
        if (InMulti)
        {
            InMulti = false;
            MultiAborted = true;
        }
    }

    /// <summary>
    /// The commands that rebuild this state on a new backend connection, in order; the gateway's own credentials
    /// (<paramref name="user"/>, <paramref name="password"/>) when the client did not authenticate itself.
    /// </summary>
    public List<(byte[] Bytes, CommandKind Kind, int Replies)> ReplayCommands(string? user, string? password)
    {
        var commands = new List<(byte[], CommandKind, int)>();
        lock (_gate)
        {
            if (_hello is null && _auth is null && password is not null)
            {
                // The gateway's own credentials, not the client's: sent as a plain command, so nothing records it as the
                // client's AUTH (see ClientAuthenticated).
                commands.Add((Encode(user is not null ? ["AUTH", user, password] : ["AUTH", password]), CommandKind.Normal, 1));
            }

            if (_auth is not null)
            {
                commands.Add((_auth, CommandKind.Auth, 1));
            }

            if (_hello is not null)
            {
                commands.Add((_hello, CommandKind.Hello, 1));
            }

            if (_select is not null)
            {
                commands.Add((_select, CommandKind.Select, 1));
            }

            if (_setName is not null)
            {
                commands.Add((_setName, CommandKind.ClientSetName, 1));
            }

            if (_readOnly)
            {
                commands.Add((Encode(["READONLY"]), CommandKind.ReadOnly, 1));
            }

            if (_channels.Count > 0)
            {
                commands.Add((Encode(["SUBSCRIBE", .. _channels]), CommandKind.Subscribe, _channels.Count));
            }

            if (_patterns.Count > 0)
            {
                commands.Add((Encode(["PSUBSCRIBE", .. _patterns]), CommandKind.PSubscribe, _patterns.Count));
            }

            // Shard channels of one SSUBSCRIBE must share a slot: replay them one by one.
            foreach (var channel in _shardChannels)
            {
                commands.Add((Encode(["SSUBSCRIBE", channel]), CommandKind.SSubscribe, 1));
            }

            if (Monitoring)
            {
                commands.Add((Encode(["MONITOR"]), CommandKind.Monitor, 1));
            }
        }

        return commands;
    }

    private static byte[] Encode(string[] args)
    {
        // Latin-1 round-trips arbitrary channel bytes kept as strings.
        var writer = new ArrayBufferWriter<byte>();
        RespWriter.WriteArrayHeader(writer, args.Length);
        foreach (var arg in args)
        {
            RespWriter.WriteBulkString(writer, Encoding.Latin1.GetBytes(arg));
        }

        return writer.WrittenSpan.ToArray();
    }
}
