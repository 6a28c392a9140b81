using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Backends.Links;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Topology;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.ShardPorts;

internal sealed partial class ShardSession
{
    /// <summary>The link's pump hands over a reply that may need more than forwarding (see <see cref="ILinkClient.WriteReply"/>).</summary>
    public void WriteReply(CommandKind kind, bool isError, in ReadOnlySequence<byte> frame)
    {
        var output = Output;
        var snapshot = _context.Monitor.Current;
        if (isError)
        {
            _context.Stats.CountError(frame);
            WriteError(frame, output, snapshot);
        }
        else if (_context.Options.RewriteRedirects && kind is CommandKind.ClusterNodes or CommandKind.ClusterSlots or CommandKind.ClusterShards)
        {
            WriteRewrittenTopology(frame, kind, output, snapshot);
        }
        else
        {
            MasterLink.Forward(frame, output);
        }
    }

    /// <summary>The gateway's own error replies count with the master's (the router's links leave counting to the router session).</summary>
    public void OnLocalError(ReadOnlySpan<byte> reply) => _context.Stats.CountError(reply);

    private void WriteError(ReadOnlySequence<byte> frame, PipeWriter output, TopologySnapshot snapshot)
    {
        var kind = ReplyErrors.Classify(frame);
        if (kind is ErrorKind.Moved or ErrorKind.Ask)
        {
            _context.Monitor.RequestRefresh(kind == ErrorKind.Moved ? "MOVED on a shard port" : "ASK on a shard port");
            if (_context.Options.RewriteRedirects && TryRewriteRedirect(frame, output, snapshot))
            {
                return;
            }
        }
        else if (kind is ErrorKind.ReadOnly or ErrorKind.MasterDown or ErrorKind.ClusterDown)
        {
            // The backend is not (or no longer) a serving master: look again and move if it changed.
            _context.Monitor.RequestRefresh("backend answered " + kind);
            _link.RequestMove();
        }

        MasterLink.Forward(frame, output);
    }

    private bool TryRewriteRedirect(ReadOnlySequence<byte> frame, PipeWriter output, TopologySnapshot snapshot)
    {
        var payload = frame.Slice(1, frame.Length - 3);
        if (!Redirect.TryParse(payload, out var isAsk, out var slot, out var target))
        {
            return false;
        }

        var group = snapshot.GroupByAnnouncedEndpoint(target) ?? (isAsk ? null : snapshot.GroupForSlot(slot));
        if (group is null || _context.PortOf(group.Id) is not { } port)
        {
            return false;
        }

        ReplyRewriter.WriteRedirect(output, isAsk, slot, new NodeEndpoint(_context.Options.AnnounceHost, port));
        return true;
    }

    private void WriteRewrittenTopology(ReadOnlySequence<byte> frame, CommandKind kind, PipeWriter output, TopologySnapshot snapshot)
    {
        var reader = new SequenceReader<byte>(frame);
        if (RespValue.TryRead(ref reader, _context.Limits, out var value, out _) != RespScanStatus.Complete || value is null)
        {
            MasterLink.Forward(frame, output);
            return;
        }

        var map = _context.AddressMap(snapshot);
        var rewritten = kind switch
        {
            CommandKind.ClusterNodes => ReplyRewriter.RewriteClusterNodes(value, map),
            CommandKind.ClusterSlots => ReplyRewriter.RewriteClusterSlots(value, map),
            _ => ReplyRewriter.RewriteClusterShards(value, map),
        };
        RespWriter.WriteValue(output, rewritten);
    }
}
