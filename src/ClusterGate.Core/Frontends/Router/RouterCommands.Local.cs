using System.Buffers;
using System.Globalization;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    /// <summary>The commands a standalone server answers about the connection itself (disposition <see cref="RouterDisposition.Local"/>).</summary>
    private static CommandOutcome AnswerLocal(RouterSession session, RespRequest request, CommandSpec spec)
    {
        var slot = session.NewSlot();
        switch (spec.Name)
        {
            case "ping" when session.IsSubscribed && session.Protocol == 2:
                // In subscribed mode a RESP2 client gets PING's answer as a message-shaped array, as Redis gives it.
                var pong = new ArrayBufferWriter<byte>();
                RespWriter.WriteArrayHeader(pong, 2);
                RespWriter.WriteBulkString(pong, "pong");
                RespWriter.WriteBulkString(pong, request.Count > 1 ? request.Argument(1) : default);
                session.Answer(slot, pong.WrittenSpan.ToArray());
                break;
            case "ping":
                session.Answer(slot, request.Count switch
                {
                    1 => GatewayReplies.Pong,
                    2 => Bulk(request.Argument(1)),
                    _ => GatewayReplies.WrongArity("ping"),
                });
                break;
            case "echo":
                session.Answer(slot, Bulk(request.Argument(1)));
                break;
            case "quit":
                slot.CloseAfter = true;
                session.Answer(slot, GatewayReplies.Ok);
                return CommandOutcome.Stop;
            case "auth":
                session.Answer(slot, Auth(session, request.Count > 2 ? request.ArgumentToString(1) : null, request.ArgumentToString(request.Count - 1)));
                break;
            case "reset":
                // Back to the default user: unauthenticated again when the gateway has a password.
                session.Authenticated = session.Context.Options.Password is null;
                session.ClientName = null;
                session.Protocol = 2;
                session.RepliesOff = session.SkipNextReply = false;
                _ = session.ResetLinksAsync();
                session.Answer(slot, GatewayReplies.Reset);
                break;
            case "hello":
                session.Answer(slot, Hello(session, request));
                break;
            case "select":
                session.Answer(slot, request.TryGetArgumentInt64(1, out var db) && db == 0 ? GatewayReplies.Ok : GatewayReplies.SelectNotZero);
                break;
            case "readonly" or "readwrite":
                // Reading from replicas is a cluster-client concern; the router reads from masters.
                session.Answer(slot, GatewayReplies.Ok);
                break;
            case var name when name.StartsWith("client", StringComparison.Ordinal):
                Client(session, request, slot);
                break;
            default:
                // CLUSTER and its subcommands: what a server with cluster mode off answers, so clients treat the router as standalone.
                session.Answer(slot, GatewayReplies.ClusterSupportDisabled);
                break;
        }

        return CommandOutcome.Done;
    }

    /// <summary>AUTH [user] password against the gateway's credentials; a failed AUTH leaves the connection as it was, as in Redis.</summary>
    private static byte[] Auth(RouterSession session, string? user, string password)
    {
        var options = session.Context.Options;
        if (options.Password is null)
        {
            return GatewayReplies.AuthWithoutPassword;
        }

        if (!ClientAuth.Matches(options.User, options.Password, user, password))
        {
            return GatewayReplies.WrongPass;
        }

        session.Authenticated = true;
        return GatewayReplies.Ok;
    }

    /// <summary>
    /// HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 or RESP3 with the client (RESP3 clients' commands go over
    /// connections that speak RESP3, so Redis's own RESP3 replies reach them), AUTH and SETNAME as Redis takes them.
    /// </summary>
    private static byte[] Hello(RouterSession session, RespRequest request)
    {
        var protocol = session.Protocol;
        if (request.Count > 1)
        {
            if (!request.TryGetArgumentInt64(1, out var asked) || asked is not (2 or 3))
            {
                return GatewayReplies.NoProto;
            }

            protocol = (int)asked;
        }

        string? name = null;
        for (var i = 2; i < request.Count; i++)
        {
            if (request.ArgumentEquals(i, "AUTH"u8) && i + 2 < request.Count)
            {
                if (Auth(session, request.ArgumentToString(i + 1), request.ArgumentToString(i + 2)) is var auth && !ReferenceEquals(auth, GatewayReplies.Ok))
                {
                    return auth;
                }

                i += 2;
            }
            else if (request.ArgumentEquals(i, "SETNAME"u8) && i + 1 < request.Count)
            {
                name = request.ArgumentToString(++i);
            }
            else
            {
                return GatewayReplies.Error($"ERR Syntax error in HELLO option '{request.ArgumentToString(i)}'");
            }
        }

        if (!session.Authenticated)
        {
            return GatewayReplies.NoAuthHello;
        }

        session.Protocol = protocol;
        if (name is not null)
        {
            session.ClientName = name;
        }

        var writer = new ArrayBufferWriter<byte>();
        writer.Write(protocol == 3 ? "%7\r\n"u8 : "*14\r\n"u8);
        RespWriter.WriteBulkString(writer, "server");
        RespWriter.WriteBulkString(writer, "redis");
        RespWriter.WriteBulkString(writer, "version");
        RespWriter.WriteBulkString(writer, session.Context.ServerVersion ?? "7.0.0");
        RespWriter.WriteBulkString(writer, "proto");
        RespWriter.WriteInteger(writer, protocol);
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

    private static void Client(RouterSession session, RespRequest request, ReplySlot slot)
    {
        if (request.Count < 2)
        {
            session.Answer(slot, GatewayReplies.WrongArity("client"));
            return;
        }

        var reply = request switch
        {
            _ when request.ArgumentEquals(1, "SETNAME"u8) && request.Count == 3 => SetName(session, request),
            _ when request.ArgumentEquals(1, "GETNAME"u8) => session.ClientName is null ? GatewayReplies.NullBulk : Bulk(session.ClientName),
            _ when request.ArgumentEquals(1, "ID"u8) => System.Text.Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $":{session.Id}\r\n")),
            _ when request.ArgumentEquals(1, "INFO"u8) => Bulk(ClientInfoLine(session) + "\n"),
            _ when request.ArgumentEquals(1, "LIST"u8) => Bulk(session.Context.DescribeClients() ?? ClientInfoLine(session) + "\n"),

            // Connection-level settings: accepted, the gateway owns the connections.
            _ when request.ArgumentEquals(1, "SETINFO"u8) || request.ArgumentEquals(1, "NO-EVICT"u8) || request.ArgumentEquals(1, "NO-TOUCH"u8) => GatewayReplies.Ok,
            _ when request.ArgumentEquals(1, "REPLY"u8) && request.Count == 3 => ClientReply(session, request, slot),
            _ when request.ArgumentEquals(1, "TRACKING"u8) || request.ArgumentEquals(1, "CACHING"u8) || request.ArgumentEquals(1, "GETREDIR"u8) || request.ArgumentEquals(1, "TRACKINGINFO"u8) =>
                GatewayReplies.Error("ERR CLIENT TRACKING is not supported by the router: its invalidations belong to one connection to one node, and a router client's keys live on every master; use a shard port (ClusterGate)"),
            _ when request.ArgumentEquals(1, "HELP"u8) => ClientHelp(),
            _ when !session.Context.Commands.TryFind("client|" + request.ArgumentToString(1).ToLowerInvariant(), out _) =>
                GatewayReplies.Error($"ERR unknown subcommand '{GatewayReplies.Truncate(request.ArgumentToString(1))}'. Try CLIENT HELP."),
            _ => GatewayReplies.ClientSubcommandNotSupported(request.ArgumentToString(1).ToUpperInvariant()),
        };
        session.Answer(slot, reply);
    }

    /// <summary>CLIENT HELP: the subcommands the router answers for a client.</summary>
    private static byte[] ClientHelp()
    {
        string[] lines =
        [
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are (answered by the router, ClusterGate):",
            "GETNAME", "    Return the name of the current connection.",
            "ID", "    Return the ID of the current connection.",
            "INFO", "    Return information about the current client connection.",
            "LIST", "    Return information about the router's client connections.",
            "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
            "SETNAME <name>", "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>, NO-EVICT (ON|OFF), NO-TOUCH (ON|OFF)", "    Accepted; the router owns its connections to the nodes.",
            "HELP", "    Print this help.",
        ];
        var writer = new ArrayBufferWriter<byte>(1024);
        RespWriter.WriteArrayHeader(writer, lines.Length);
        foreach (var line in lines)
        {
            writer.Write(System.Text.Encoding.ASCII.GetBytes($"+{line}\r\n"));
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>CLIENT REPLY ON|OFF|SKIP, handled by the gateway for this client: OFF and SKIP have no reply of their own.</summary>
    private static byte[] ClientReply(RouterSession session, RespRequest request, ReplySlot slot)
    {
        if (request.ArgumentEquals(2, "ON"u8))
        {
            // Its slot was made while replies were off: ON's own reply is written, as Redis does.
            session.RepliesOff = false;
            slot.Dropped = false;
            return GatewayReplies.Ok;
        }

        if (request.ArgumentEquals(2, "OFF"u8))
        {
            session.RepliesOff = true;
            slot.Dropped = true;
            return GatewayReplies.Ok;
        }

        if (request.ArgumentEquals(2, "SKIP"u8))
        {
            session.SkipNextReply = true;
            slot.Dropped = true;
            return GatewayReplies.Ok;
        }

        return GatewayReplies.Error("ERR syntax error");
    }

    private static byte[] SetName(RouterSession session, RespRequest request)
    {
        session.ClientName = request.ArgumentToString(2);
        return GatewayReplies.Ok;
    }

    internal static string ClientInfoLine(RouterSession session) =>
        string.Create(CultureInfo.InvariantCulture,
            $"id={session.Id} addr={session.RemoteEndPoint} name={session.ClientName ?? string.Empty} age={(long)(session.Context.TimeProvider.GetUtcNow() - session.ConnectedAt).TotalSeconds} db=0 resp=2 lib-name=ClusterGate");
}
