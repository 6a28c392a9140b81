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

/// <summary>
/// The link's failover state machine over in-memory pipes: the test plays the client loop (under the send lock, as
/// a shard session does), the group's nodes, the topology (a directory it controls) and the clock.
/// </summary>
public sealed partial class MasterLinkTests : IAsyncDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan HoldTime = TimeSpan.FromSeconds(20);
    private static readonly MasterAddress A = new("A", new NodeEndpoint("127.0.0.1", 7000));
    private static readonly MasterAddress B = new("B", new NodeEndpoint("127.0.0.1", 7001));

    private static readonly Cmd Get = new(Command("GET", "k"), ReadOnly: true);
    private static readonly Cmd Set = new(Command("SET", "k", "v"));
    private static readonly Cmd Incr = new(Command("INCR", "n"));
    private static readonly Cmd Select = new(Command("SELECT", "2"), Kind: CommandKind.Select);
    private static readonly Cmd SetName = new(Command("CLIENT", "SETNAME", "app"), Kind: CommandKind.ClientSetName);

    private readonly TimerCountingTimeProvider _time = new();
    private readonly FakeDirectory _directory = new();
    private readonly InMemoryConnector _connector = new();
    private readonly LinkClient _client = new();
    private readonly MasterLink _link;
    private Task? _pump;

    public MasterLinkTests()
    {
        _link = new MasterLink(
            groupId: 0,
            sessionId: 1,
            _directory,
            _connector,
            new MasterLinkOptions { HoldTimeout = HoldTime, MaxInFlight = 16 },
            NullLogger.Instance,
            _time);
    }

    [Fact]
    public async Task PumpAsync_RepliesInPieces_RelayedInCommandOrder()
    {
        _directory.Publish(A);
        StartPump();

        await SendAsync(Get, Set, Incr, Get, Set);
        var node = await _connector.OpenedAsync(0);
        await node.ExpectAsync(Get.Text + Set.Text + Incr.Text + Get.Text + Set.Text);
        Assert.Equal(16 - 5, _link.Room);

        // A bulk string cut in its middle, an error, and the rest in a later read.
        await node.ReplyAsync("$5\r\nhel");
        await node.ReplyAsync("lo\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$-1");
        await node.ReplyAsync("\r\n+OK\r\n");

        await _client.ExpectAsync("$5\r\nhello\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$-1\r\n+OK\r\n");
        Assert.Equal([(CommandKind.Normal, true)], _client.Handed);
        await EventuallyAsync(() => _link.Room == 16, "every credit back");
        await EndAsync();
    }

    [Fact]
    public async Task PumpAsync_LocalRepliesBetweenBackendCommands_KeepTheirPlace()
    {
        _directory.Publish(A);
        StartPump();

        await SendAsync(Get, Cmd.Local("+PONG\r\n"), Set);
        var node = await _connector.OpenedAsync(0);
        await node.ExpectAsync(Get.Text + Set.Text);
        await node.ReplyAsync("$1\r\nv\r\n+OK\r\n");

        await _client.ExpectAsync("$1\r\nv\r\n+PONG\r\n+OK\r\n");
        await EndAsync();
    }

    [Fact]
    public async Task PumpAsync_BackendLostWithWriteAndReadInFlight_WriteOutcomeUnknownReadResentOnNewMaster()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Set, Get);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Set.Text + Get.Text);

        a.Close();

        // The write may have run: the client learns it at once, before any new master is known.
        await _client.ExpectAsync(Encoding.UTF8.GetString(GatewayReplies.OutcomeUnknown("127.0.0.1:7000")));
        Assert.StartsWith("-ERR outcome unknown", Encoding.UTF8.GetString(GatewayReplies.OutcomeUnknown("x:1")), StringComparison.Ordinal);
        await EventuallyAsync(() => _directory.Refreshes > 0, "a refresh requested");

        _directory.Publish(B, down: "A");
        var b = await _connector.OpenedAsync(1);
        await b.ExpectAsync(Get.Text);
        await b.ReplyAsync("$1\r\nv\r\n");

        await _client.ExpectAsync("$1\r\nv\r\n");
        Assert.Equal("B", _link.NodeId);
        Assert.Equal(["A", "B"], _connector.Attempts);
        await EventuallyAsync(() => _link.Room == 16, "every credit back");
        await EndAsync();
    }

    [Fact]
    public async Task PumpAsync_LostNodeStillNamedInSameView_NotReconnectedUntilNewerView()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Get);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Get.Text);
        var looks = _directory.ConfirmedLooks;

        a.Close();

        // The view that still names A is the one from before the loss: A is looked at, and skipped.
        await EventuallyAsync(() => _directory.ConfirmedLooks > looks, "the link looking for a master");
        await Task.Delay(100);
        Assert.Equal(["A"], _connector.Attempts);

        // A newer view still shows A up (it restarted): the link goes back to it.
        _directory.Publish(A);
        var again = await _connector.OpenedAsync(1);
        await again.ExpectAsync(Get.Text);
        await again.ReplyAsync("$1\r\nv\r\n");
        await _client.ExpectAsync("$1\r\nv\r\n");
        Assert.Equal(["A", "A"], _connector.Attempts);
        await EndAsync();
    }

    [Fact]
    public async Task PumpAsync_ReadInFlightAndNoMasterWithinHoldTime_AnsweredClusterDown()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Get);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Get.Text);
        var looks = _directory.ConfirmedLooks;
        var timers = _time.TimersCreated;

        a.Close();
        await EventuallyAsync(() => _directory.ConfirmedLooks > looks, "the link looking for a master");

        // The hold is a wait bounded on the clock: advance it once that wait has started its timer.
        await EventuallyAsync(() => _time.TimersCreated > timers, "the hold's bound started");
        _time.Advance(HoldTime + TimeSpan.FromSeconds(1));

        await _client.ExpectAsync("-CLUSTERDOWN shard group 0 has no master reachable after waiting 20000 ms (ClusterGate)\r\n");
        Assert.Null(_link.NodeId);
        await EndAsync();
    }

    [Fact]
    public async Task EnsureConnectedLockedAsync_NoMasterYet_CommandWaitsAndGoesOutWhenOneAppears()
    {
        StartPump();
        var looks = _directory.ConfirmedLooks;

        var send = SendAsync(Get);

        await EventuallyAsync(() => _directory.ConfirmedLooks > looks, "the link looking for a master");
        await Task.Delay(50);
        Assert.False(send.IsCompleted);
        Assert.Empty(_connector.Attempts);

        _directory.Publish(A);
        await send.WaitAsync(Bound);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Get.Text);
        await a.ReplyAsync("$1\r\nv\r\n");
        await _client.ExpectAsync("$1\r\nv\r\n");
        await EndAsync();
    }

    [Fact]
    public async Task EnsureConnectedLockedAsync_NoMasterWithinHoldTime_ClusterDownReply()
    {
        StartPump();
        var looks = _directory.ConfirmedLooks;
        var send = SendAsync(Set);
        await EventuallyAsync(() => _directory.ConfirmedLooks > looks, "the link looking for a master");

        _time.Advance(HoldTime - TimeSpan.FromSeconds(1));
        await Task.Delay(50);
        Assert.False(send.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(2));
        await send.WaitAsync(Bound);

        await _client.ExpectAsync("-CLUSTERDOWN shard group 0 has no master reachable after waiting 20000 ms (ClusterGate)\r\n");
        Assert.Empty(_connector.Attempts);
        await EndAsync();
    }

    [Fact]
    public async Task EnsureConnectedLockedAsync_ConnectToMasterFails_TriesAgainOnNextView()
    {
        _connector.Fail("A");
        _directory.Publish(A);
        StartPump();

        var send = SendAsync(Get);
        await _connector.AttemptedAsync(1);
        await EventuallyAsync(() => _directory.Refreshes > 0, "a refresh requested after the failed connect");
        Assert.False(send.IsCompleted);

        _connector.Heal("A");
        _directory.Publish(A);
        await send.WaitAsync(Bound);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Get.Text);
        Assert.Equal(["A", "A"], _connector.Attempts);
        await a.ReplyAsync("$1\r\nv\r\n");
        await _client.ExpectAsync("$1\r\nv\r\n");
        await EndAsync();
    }

    [Fact]
    public async Task RequestMove_NewMasterWhileOldOneAnswers_StateReplayedFirstAndItsRepliesNotForwarded()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Select, SetName);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Select.Text + SetName.Text);
        await a.ReplyAsync("+OK\r\n+OK\r\n");
        await _client.ExpectAsync("+OK\r\n+OK\r\n");

        _directory.Publish(B);
        _link.RequestMove();

        var b = await _connector.OpenedAsync(1);
        await b.ExpectAsync(Select.Text + SetName.Text);
        Assert.True(a.Aborted);
        await b.ReplyAsync("+OK\r\n+OK\r\n");
        await SendAsync(Get);
        await b.ExpectAsync(Get.Text);
        await b.ReplyAsync("$1\r\nv\r\n");

        await _client.ExpectAsync("$1\r\nv\r\n");
        Assert.Equal(string.Empty, _client.Unread());
        Assert.Equal("B", _link.NodeId);
        await EndAsync();
    }

    [Fact]
    public async Task RequestMove_CommandInFlightOnOldMaster_ItsReplyComesFirstThenMove()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Incr);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Incr.Text);

        _directory.Publish(B);
        _link.RequestMove();
        await a.ReplyAsync(":7\r\n");

        await _client.ExpectAsync(":7\r\n");
        await _connector.OpenedAsync(1);
        await EventuallyAsync(() => _link.NodeId == "B", "the link on B");
        Assert.True(a.Aborted);
        await EndAsync();
    }

    [Fact]
    public async Task RequestMove_OldMasterDown_WriteInFlightOutcomeUnknown()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Set);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Set.Text);

        // A hangs: it neither answers nor closes. The view shows it down and B promoted.
        _directory.Publish(B, down: "A");
        _link.RequestMove();

        await _client.ExpectAsync(Encoding.UTF8.GetString(GatewayReplies.OutcomeUnknown("127.0.0.1:7000")));
        await _connector.OpenedAsync(1);
        await EventuallyAsync(() => _link.NodeId == "B", "the link on B");
        await EndAsync();
    }

    [Fact]
    public async Task RequestMove_OldMasterUpButNeverAnswers_InFlightLostAfterTheDrainBoundThenMove()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Set, Get);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Set.Text + Get.Text);

        // A is still shown up, so the link waits for its replies; the wait is bounded (2 s on the link's clock, whose
        // timer starts when the pump gets to the drain: the clock is advanced only then).
        var timers = _time.TimersCreated;
        _directory.Publish(B);
        _link.RequestMove();
        await EventuallyAsync(() => _time.TimersCreated > timers, "the drain's bound started");
        Assert.False(a.Aborted);
        _time.Advance(TimeSpan.FromSeconds(2));

        await _client.ExpectAsync(Encoding.UTF8.GetString(GatewayReplies.OutcomeUnknown("127.0.0.1:7000")));
        var b = await _connector.OpenedAsync(1);
        await b.ExpectAsync(Get.Text);
        await b.ReplyAsync("$1\r\nv\r\n");
        await _client.ExpectAsync("$1\r\nv\r\n");
        Assert.True(a.Aborted);
        await EndAsync();
    }

    [Fact]
    public async Task RequestMove_SameMaster_StaysOnItsConnection()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Get);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Get.Text);

        _directory.Publish(A);
        _link.RequestMove();
        await a.ReplyAsync("$1\r\nv\r\n");

        await _client.ExpectAsync("$1\r\nv\r\n");
        Assert.False(a.Aborted);
        Assert.Equal(["A"], _connector.Attempts);
        await EndAsync();
    }

    [Fact]
    public async Task PumpAsync_BackendLostAfterSelect_SelectReplayedBeforeTheResentRead()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Select);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Select.Text);
        await a.ReplyAsync("+OK\r\n");
        await _client.ExpectAsync("+OK\r\n");
        await SendAsync(Get);
        await a.ExpectAsync(Get.Text);

        a.Close();
        _directory.Publish(B, down: "A");

        var b = await _connector.OpenedAsync(1);
        await b.ExpectAsync(Select.Text + Get.Text);
        await b.ReplyAsync("+OK\r\n$1\r\nv\r\n");
        await _client.ExpectAsync("$1\r\nv\r\n");
        await EndAsync();
    }

    [Fact]
    public async Task PumpAsync_MalformedReply_HandledAsALostConnection()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Set);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Set.Text);

        await a.ReplyAsync("$x\r\n");

        await _client.ExpectAsync(Encoding.UTF8.GetString(GatewayReplies.OutcomeUnknown("127.0.0.1:7000")));
        Assert.True(a.Aborted);

        // Like any loss: the link waits for a view newer than the one naming A before it connects again.
        _directory.Publish(B, down: "A");
        await _connector.OpenedAsync(1);
        await EndAsync();
    }

    [Fact]
    public async Task Abort_WhileWaitingForAMaster_ClientLoopAndPumpStop()
    {
        StartPump();
        var looks = _directory.ConfirmedLooks;
        var send = SendAsync(Get);
        await EventuallyAsync(() => _directory.ConfirmedLooks > looks, "the link looking for a master");

        _link.Abort();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(Bound));

        // The pump ends either way (cancelled, or woken and seeing the abort).
        var pumpEnd = await Record.ExceptionAsync(() => _pump!.WaitAsync(Bound));
        Assert.True(pumpEnd is null or OperationCanceledException, $"pump ended with {pumpEnd}");
        Assert.Empty(_connector.Attempts);
    }

    [Fact]
    public async Task ClientDone_EverythingAnswered_PumpEnds()
    {
        _directory.Publish(A);
        StartPump();
        await SendAsync(Get);
        var a = await _connector.OpenedAsync(0);
        await a.ExpectAsync(Get.Text);
        await a.ReplyAsync("$1\r\nv\r\n");
        await _client.ExpectAsync("$1\r\nv\r\n");

        _link.ClientDone = true;

        await _pump!.WaitAsync(Bound);
    }

    public async ValueTask DisposeAsync()
    {
        if (_pump is not null && !_pump.IsCompleted)
        {
            _link.Abort();
            try
            {
                await _pump.WaitAsync(Bound);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _link.DisposeAsync();
    }

    private void StartPump() => _pump = Task.Run(() => _link.PumpAsync(_client));

    /// <summary>Nothing more to send: the pump ends once every reply is out.</summary>
    private async Task EndAsync()
    {
        _link.ClientDone = true;
        await _pump!.WaitAsync(Bound);
        Assert.Equal(string.Empty, _client.Unread());
    }

    /// <summary>
    /// What a shard session's client loop does with one read of commands: under the send lock, connect when there
    /// is no connection (waiting for a master up to the hold time), record each command in the reply order (a copy
    /// where it may be needed again), write it, take the credits, flush.
    /// </summary>
    private async Task SendAsync(params Cmd[] commands)
    {
        await _link.LockAsync().WaitAsync(Bound);
        try
        {
            await _link.EnsureConnectedLockedAsync();
            var backend = _link.Backend;
            var wroteLocal = false;
            var wroteBackend = false;
            foreach (var command in commands)
            {
                if (command.LocalReply is not null || backend is null)
                {
                    _link.EnqueueLocal(command.LocalReply is { } reply ? Encoding.Latin1.GetBytes(reply) : _link.NoMaster());
                    wroteLocal = true;
                    continue;
                }

                var bytes = Encoding.Latin1.GetBytes(command.Text);
                var pending = new PendingCommand
                {
                    Kind = command.Kind,
                    RepliesLeft = 1,
                    Flags = PendingFlags.HoldsCredit | (command.ReadOnly ? PendingFlags.ReadOnly : PendingFlags.None),
                };
                if (command.ReadOnly || command.Kind != CommandKind.Normal)
                {
                    _link.Keep(ref pending, bytes);
                }

                _link.Enqueue(pending);
                backend.Output.Write(bytes);
                wroteBackend = true;
            }

            _link.TakeCredits(commands.Length);
            if (wroteBackend)
            {
                await backend!.Output.FlushAsync();
            }

            if (wroteLocal)
            {
                _link.Wake();
            }
        }
        finally
        {
            _link.Unlock();
        }
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not reached within {Bound}: {what}");
            }

            await Task.Delay(5);
        }
    }

    private static string Command(params string[] args)
    {
        var text = new StringBuilder();
        text.Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            text.Append('$').Append(arg.Length).Append("\r\n").Append(arg).Append("\r\n");
        }

        return text.ToString();
    }

    private sealed record Cmd(string Text, bool ReadOnly = false, CommandKind Kind = CommandKind.Normal, string? LocalReply = null)
    {
        public static Cmd Local(string reply) => new(string.Empty, LocalReply: reply);
    }
}
