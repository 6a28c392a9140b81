using System.Buffers;
using System.Text;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// What the router does with each command: answer it as a standalone Redis would, send it to the
/// master of its slot, split it per slot (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) or fan it out.
/// </summary>
internal static partial class RouterCommands
{
    /// <summary>Handles one command; true when the session must stop reading (QUIT).</summary>
    public static bool Execute(RouterSession session, RespRequest request)
    {
        var slot = session.NewSlot();
        if (TryLocal(session, request, slot, out var stop))
        {
            return stop;
        }

        var context = session.Context;
        var spec = context.Commands.Find(request);
        if (spec is null)
        {
            session.Answer(slot, GatewayReplies.UnknownCommand(Truncate(request.ArgumentToString(0)), ArgsPreview(request)));
            return false;
        }

        if (spec.Arity > 0 ? request.Count != spec.Arity : request.Count < -spec.Arity)
        {
            session.Answer(slot, GatewayReplies.WrongArity(spec.Name));
            return false;
        }

        if (spec.Name is "mset" or "msetnx" && (request.Count - 1) % 2 != 0)
        {
            session.Answer(slot, GatewayReplies.WrongArity(spec.Name));
            return false;
        }

        if (spec.Name is "wait" or "waitaof")
        {
            // On a shared connection it would wait for other clients' writes and stall them meanwhile.
            session.Answer(slot, GatewayReplies.RefusedOnSharedConnection(spec.Name, "counts the replicas of this connection's writes, which the router's shared connections cannot do; use a shard port"));
            return false;
        }

        if (TryServerCommand(session, request, spec, slot))
        {
            return false;
        }

        if (spec.HasFlag(CommandSpecFlags.Blocking))
        {
            // A blocked command would stall every client sharing the connection.
            session.Answer(slot, GatewayReplies.RefusedOnSharedConnection(spec.Name, "blocks, which the router's shared connections cannot do; use a shard port for blocking commands"));
            return false;
        }

        if (!KeyFinder.TryGetSlot(request, spec, out var hashSlot, out var crossSlot, out var keyless))
        {
            session.Answer(slot, GatewayReplies.KeysNotFound(spec.Name));
            return false;
        }

        var readOnly = spec.HasFlag(CommandSpecFlags.ReadOnly) && !spec.HasFlag(CommandSpecFlags.Write);
        if (crossSlot)
        {
            if (!TrySplit(session, request, spec, slot))
            {
                session.Answer(slot, GatewayReplies.CrossSlot);
            }

            return false;
        }

        if (keyless)
        {
            SendToAnyMaster(session, request.ArrayFrame, readOnly, slot);
            return false;
        }

        var routed = new RoutedCommand(request.ArrayFrame, hashSlot, readOnly, session.Id, slot);
        session.Sent(context.Dispatcher.Route(routed));
        return false;
    }

    /// <summary>
    /// The usual command, seen only by its head (<see cref="RespRequestHead"/>): a known command whose only
    /// key is its first argument, with a valid argument count, goes straight to its slot's master. False
    /// for everything else (the caller parses the request and runs <see cref="Execute"/>, which decides).
    /// None of the commands the gateway answers, splits, refuses or fans out has this key shape.
    /// </summary>
    public static bool TryRouteSingleKey(RouterSession session, ReadOnlySpan<byte> frame, ReadOnlySpan<byte> name, ReadOnlySpan<byte> key, int count)
    {
        var context = session.Context;
        if (!context.Commands.TryFind(name, out var spec) || !spec.KeyIsFirstArgumentOnly || spec.HasFlag(CommandSpecFlags.Blocking)
            || (spec.Arity > 0 ? count != spec.Arity : count < -spec.Arity))
        {
            return false;
        }

        var readOnly = spec.HasFlag(CommandSpecFlags.ReadOnly) && !spec.HasFlag(CommandSpecFlags.Write);
        var routed = new RoutedCommand(frame, HashSlot.Compute(key), readOnly, session.Id, session.NewSlot());
        session.Sent(context.Dispatcher.Route(routed));
        return true;
    }

    /// <summary>Commands a standalone server answers about the connection itself.</summary>
    private static bool TryLocal(RouterSession session, RespRequest request, ReplySlot slot, out bool stop)
    {
        stop = false;
        var args = request.Count - 1;
        switch (request.ArgumentLength(0))
        {
            case 4 when request.ArgumentEquals(0, "PING"u8):
                if (args == 0)
                {
                    session.Answer(slot, GatewayReplies.Pong);
                }
                else
                {
                    session.Answer(slot, Bulk(request.Argument(1)));
                }

                return true;
            case 4 when request.ArgumentEquals(0, "ECHO"u8) && args == 1:
                session.Answer(slot, Bulk(request.Argument(1)));
                return true;
            case 4 when request.ArgumentEquals(0, "QUIT"u8):
                slot.CloseAfter = true;
                session.Answer(slot, GatewayReplies.Ok);
                stop = true;
                return true;
            case 4 when request.ArgumentEquals(0, "AUTH"u8):
                session.Answer(slot, Auth(session, request));
                return true;
            case 5 when request.ArgumentEquals(0, "RESET"u8):
                session.ClientName = null;
                session.Answer(slot, GatewayReplies.Reset);
                return true;
            case 5 when request.ArgumentEquals(0, "HELLO"u8):
                session.Answer(slot, Hello(session, request));
                return true;
            case 6 when request.ArgumentEquals(0, "SELECT"u8) && args == 1:
                session.Answer(slot, request.TryGetArgumentInt64(1, out var db) && db == 0
                    ? GatewayReplies.Ok
                    : GatewayReplies.SelectNotZero);
                return true;
            case 6 when request.ArgumentEquals(0, "CLIENT"u8) && args >= 1:
                return TryClient(session, request, slot);
            case 7 when request.ArgumentEquals(0, "CLUSTER"u8):
                // What a server with cluster mode off answers, so clients treat the router as standalone.
                session.Answer(slot, GatewayReplies.ClusterSupportDisabled);
                return true;
            case 5 when request.ArgumentEquals(0, "MULTI"u8) || request.ArgumentEquals(0, "WATCH"u8):
            case 4 when request.ArgumentEquals(0, "EXEC"u8):
            case 7 when request.ArgumentEquals(0, "DISCARD"u8) || request.ArgumentEquals(0, "UNWATCH"u8) || request.ArgumentEquals(0, "MONITOR"u8):
            case 9 when request.ArgumentEquals(0, "SUBSCRIBE"u8):
            case 10 when request.ArgumentEquals(0, "PSUBSCRIBE"u8) || request.ArgumentEquals(0, "SSUBSCRIBE"u8):
            case 11 when request.ArgumentEquals(0, "UNSUBSCRIBE"u8):
            case 12 when request.ArgumentEquals(0, "PUNSUBSCRIBE"u8) || request.ArgumentEquals(0, "SUNSUBSCRIBE"u8):
                session.Answer(slot, GatewayReplies.RefusedOnSharedConnection(request.ArgumentToString(0).ToUpperInvariant(), "needs a connection of its own, which the router does not give yet; use a shard port"));
                return true;
        }

        return false;
    }

    private static byte[] Auth(RouterSession session, RespRequest request)
    {
        var password = session.Context.Options.Password;
        if (password is null)
        {
            return GatewayReplies.AuthWithoutPassword;
        }

        var given = request.ArgumentToString(request.Count - 1);
        return given == password ? GatewayReplies.Ok : GatewayReplies.WrongPass;
    }

    private static byte[] Hello(RouterSession session, RespRequest request)
    {
        if (request.Count > 1 && !(request.TryGetArgumentInt64(1, out var protocol) && protocol == 2))
        {
            return request.TryGetArgumentInt64(1, out var p) && p == 3
                ? GatewayReplies.Error("NOPROTO the router speaks RESP2 only (its backend connections are shared); use a shard port for RESP3 (ClusterGate)")
                : GatewayReplies.NoProto;
        }

        var writer = new ArrayBufferWriter<byte>();
        RespWriter.WriteArrayHeader(writer, 14);
        RespWriter.WriteBulkString(writer, "server");
        RespWriter.WriteBulkString(writer, "redis");
        RespWriter.WriteBulkString(writer, "version");
        RespWriter.WriteBulkString(writer, session.Context.ServerVersion ?? "7.0.0");
        RespWriter.WriteBulkString(writer, "proto");
        RespWriter.WriteInteger(writer, 2);
        RespWriter.WriteBulkString(writer, "id");
        RespWriter.WriteInteger(writer, session.Id);
        RespWriter.WriteBulkString(writer, "mode");
        RespWriter.WriteBulkString(writer, "standalone");
        RespWriter.WriteBulkString(writer, "role");
        RespWriter.WriteBulkString(writer, "master");
        RespWriter.WriteBulkString(writer, "modules");
        RespWriter.WriteArrayHeader(writer, 0);
        return writer.WrittenSpan.ToArray();
    }

    private static bool TryClient(RouterSession session, RespRequest request, ReplySlot slot)
    {
        if (request.ArgumentEquals(1, "SETNAME"u8) && request.Count == 3)
        {
            session.ClientName = request.ArgumentToString(2);
            session.Answer(slot, GatewayReplies.Ok);
            return true;
        }

        if (request.ArgumentEquals(1, "GETNAME"u8))
        {
            session.Answer(slot, session.ClientName is null ? GatewayReplies.NullBulk : Bulk(session.ClientName));
            return true;
        }

        if (request.ArgumentEquals(1, "ID"u8))
        {
            session.Answer(slot, Encoding.ASCII.GetBytes($":{session.Id}\r\n"));
            return true;
        }

        if (request.ArgumentEquals(1, "INFO"u8))
        {
            session.Answer(slot, Bulk(ClientInfoLine(session) + "\n"));
            return true;
        }

        if (request.ArgumentEquals(1, "LIST"u8))
        {
            session.Answer(slot, Bulk(session.Context.DescribeClients() ?? ClientInfoLine(session) + "\n"));
            return true;
        }

        // CLIENT SETINFO and other connection-level settings: accepted, the gateway owns the connections.
        if (request.ArgumentEquals(1, "SETINFO"u8) || request.ArgumentEquals(1, "NO-EVICT"u8) || request.ArgumentEquals(1, "NO-TOUCH"u8) || request.ArgumentEquals(1, "REPLY"u8))
        {
            session.Answer(slot, request.ArgumentEquals(1, "REPLY"u8) ? GatewayReplies.ClientSubcommandNotSupported("REPLY") : GatewayReplies.Ok);
            return true;
        }

        session.Answer(slot, GatewayReplies.ClientSubcommandNotSupported(request.ArgumentToString(1).ToUpperInvariant()));
        return true;
    }

    internal static string ClientInfoLine(RouterSession session) =>
        $"id={session.Id} addr={session.RemoteEndPoint} name={session.ClientName ?? string.Empty} age={(long)(DateTimeOffset.UtcNow - session.ConnectedAt).TotalSeconds} db=0 resp=2 lib-name=ClusterGate";

    /// <summary>
    /// A keyless command: no node is named, so the dispatcher picks a live master when it routes it (the
    /// same one for a session while the topology stands), also when it waits for a master and is routed again.
    /// </summary>
    private static void SendToAnyMaster(RouterSession session, in ReadOnlySequence<byte> command, bool readOnly, IReplySink sink)
    {
        var request = new RoutedCommand(command, -1, readOnly, session.Id, sink);
        session.Sent(session.Context.Dispatcher.Route(request));
    }

    // ------------------------------------------------------------ helpers

    internal static byte[] Bulk(string text) => Bulk(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text)));

    internal static byte[] Bulk(in ReadOnlySequence<byte> payload)
    {
        var writer = new ArrayBufferWriter<byte>((int)payload.Length + 16);
        RespWriter.WriteBulkString(writer, payload);
        return writer.WrittenSpan.ToArray();
    }

    private static string Truncate(string text) => text.Length > 128 ? text[..128] : text;

    private static string ArgsPreview(RespRequest request)
    {
        var preview = new StringBuilder();
        for (var i = 1; i < request.Count && preview.Length < 128; i++)
        {
            preview.Append('\'').Append(Truncate(request.ArgumentToString(i))).Append("' ");
        }

        return preview.ToString();
    }
}
