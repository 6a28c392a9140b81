using System.Buffers;
using System.Globalization;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    /// <summary>The commands a standalone server answers about the connection itself (disposition <see cref="RouterDisposition.Local"/>).</summary>
    private static bool AnswerLocal(RouterSession session, RespRequest request, CommandSpec spec, ReplySlot slot)
    {
        switch (spec.Name)
        {
            case "ping":
                session.Answer(slot, request.Count switch
                {
                    1 => GatewayReplies.Pong,
                    2 => Bulk(request.Argument(1)),
                    _ => GatewayReplies.WrongArity("ping"),
                });
                return false;
            case "echo":
                session.Answer(slot, Bulk(request.Argument(1)));
                return false;
            case "quit":
                slot.CloseAfter = true;
                session.Answer(slot, GatewayReplies.Ok);
                return true;
            case "auth":
                session.Answer(slot, Auth(session, request));
                return false;
            case "reset":
                session.ClientName = null;
                session.Answer(slot, GatewayReplies.Reset);
                return false;
            case "hello":
                session.Answer(slot, Hello(session, request));
                return false;
            case "select":
                session.Answer(slot, request.TryGetArgumentInt64(1, out var db) && db == 0 ? GatewayReplies.Ok : GatewayReplies.SelectNotZero);
                return false;
            case "readonly" or "readwrite":
                // Reading from replicas is a cluster-client concern; the router reads from masters.
                session.Answer(slot, GatewayReplies.Ok);
                return false;
            case var name when name.StartsWith("client", StringComparison.Ordinal):
                Client(session, request, slot);
                return false;
            default:
                // CLUSTER and its subcommands: what a server with cluster mode off answers, so clients treat the router as standalone.
                session.Answer(slot, GatewayReplies.ClusterSupportDisabled);
                return false;
        }
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
            _ => GatewayReplies.ClientSubcommandNotSupported(request.ArgumentToString(1).ToUpperInvariant()),
        };
        session.Answer(slot, reply);
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
