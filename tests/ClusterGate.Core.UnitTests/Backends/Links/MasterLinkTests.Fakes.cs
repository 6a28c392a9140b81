using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Backends.Links;
using ClusterGate.Core.Resp;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace ClusterGate.Core.UnitTests.Backends.Links;

/// <summary>The fakes the link runs against: a topology the test controls and a client that records what it is given.</summary>
public sealed partial class MasterLinkTests
{
    /// <summary>The topology as the link sees it: the test sets the group's confirmed master and publishes views.</summary>
    private sealed class FakeDirectory : IMasterDirectory
    {
        private readonly Lock _gate = new();
        private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _version;
        private MasterAddress? _master;
        private HashSet<string> _down = new(StringComparer.Ordinal);
        private int _confirmedLooks;
        private int _refreshes;

        public long Version
        {
            get
            {
                lock (_gate)
                {
                    return _version;
                }
            }
        }

        /// <summary>How many times the link asked who the master is.</summary>
        public int ConfirmedLooks => Volatile.Read(ref _confirmedLooks);

        public int Refreshes => Volatile.Read(ref _refreshes);

        public MasterAddress? ConfirmedMaster(int groupId, out long version)
        {
            lock (_gate)
            {
                Assert.Equal(0, groupId);
                version = _version;
                Interlocked.Increment(ref _confirmedLooks);
                return _master;
            }
        }

        public bool IsDownOrGone(string nodeId)
        {
            lock (_gate)
            {
                return _down.Contains(nodeId);
            }
        }

        public Task NextChangeAsync(CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                return _next.Task.WaitAsync(cancellationToken);
            }
        }

        public void RequestRefresh(string reason) => Interlocked.Increment(ref _refreshes);

        /// <summary>A new view: <paramref name="master"/> confirmed (or none), <paramref name="down"/> down.</summary>
        public void Publish(MasterAddress? master, params string[] down)
        {
            TaskCompletionSource published;
            lock (_gate)
            {
                _version++;
                _master = master;
                _down = new HashSet<string>(down, StringComparer.Ordinal);
                published = _next;
                _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            published.TrySetResult();
        }
    }

    /// <summary>The client side of the link: its output is a pipe the test reads; replies handed over are forwarded.</summary>
    private sealed class LinkClient : ILinkClient
    {
        private readonly Pipe _output = new();
        private readonly List<(CommandKind Kind, bool IsError)> _handed = [];

        public PipeWriter Output => _output.Writer;

        public IReadOnlyList<(CommandKind Kind, bool IsError)> Handed
        {
            get
            {
                lock (_handed)
                {
                    return [.. _handed];
                }
            }
        }

        public void WriteReply(CommandKind kind, bool isError, in ReadOnlySequence<byte> frame)
        {
            lock (_handed)
            {
                _handed.Add((kind, isError));
            }

            MasterLink.Forward(frame, Output);
        }

        public Task ExpectAsync(string expected) => PipeText.ExpectAsync(_output.Reader, expected, "the client");

        public string Unread() => PipeText.Unread(_output.Reader);
    }
}
