using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using ClusterGate.Hostile.Net;
using ClusterGate.Hostile.Resp;
using ClusterGate.Hostile.Run;
using ClusterGate.Hostile.Target;

namespace ClusterGate.Hostile.Probes;

/// <summary>
/// Memory that comes back: the idle RSS of a quiet target, then a burst (--idle-count clients that PING, 50 of them
/// reading a large value 4 times), every client closed, and RSS every 5 s for --settle-burst. A process that keeps
/// the burst's buffers mapped after every client left holds that memory for good; one that gives it back is within
/// 20 MB of idle again. Needs --pid. Not in the default run: it takes a minute and a half, and its idle reading means
/// most on a fresh target, not after never-reads has filled buffers.
/// </summary>
internal sealed class BurstProbe : IProbe
{
    /// <summary>--value-size when not given: large enough that 50 readers at once are a burst of memory.</summary>
    public const int DefaultValueSize = 1024 * 1024;

    private const int Readers = 50;
    private const int GetsEach = 4;
    private const int IdleReadings = 5;
    private const int PointEvery = 5;
    private const int PingBuffer = 256;
    private const int GetBuffer = 64 * 1024;

    /// <summary>"Comes back": RSS at most this much above idle.</summary>
    private const int WithinMb = 20;

    private static readonly TimeSpan QuietLimit = TimeSpan.FromSeconds(30);
    private static readonly int[] Marks = [5, 10, 20, 30, 60];
    private static readonly byte[] Ping = "*1\r\n$4\r\nPING\r\n"u8.ToArray();

    public string Name => "burst";

    public string Summary => "with --pid: idle RSS of the quiet target; --idle-count connections PING, 50 of them GET a --value-size (1 MB) value 4 times; all closed; RSS every 5 s for --settle-burst";

    public TimeSpan PlannedWaits(HostileOptions options) => QuietLimit + TimeSpan.FromSeconds(IdleReadings) + options.SettleBurst;

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var options = context.Options;
        if (context.Process.Pid is null)
        {
            return ProbeOutcome.Skip("needs --pid");
        }

        var timeline = new RssTimeline(context.Process);
        context.Log($"burst: waiting until the target is quiet (at most {QuietLimit.TotalSeconds:0} s), then {IdleReadings} idle readings");
        var quiet = await timeline.WaitQuietAsync(QuietLimit, ct);
        var idle = await timeline.ReadingsAsync(IdleReadings, ct);
        if (idle.Count == 0)
        {
            return new ProbeOutcome { Reply = "not run: no RSS reading (the process is gone)" };
        }

        var memory = new BurstMemory
        {
            IdleMb = RssTimeline.Median(idle),
            IdleSamplesMb = idle,
            QuietAfterS = quiet?.TotalSeconds,
            WithinMb = WithinMb,
            SettleS = options.SettleBurst.TotalSeconds,
            Connections = options.IdleCount,
            ValueSize = options.ValueSize ?? DefaultValueSize,
            Gets = Readers * GetsEach,
        };
        context.Log($"burst: idle {Mb(memory.IdleMb)}; {options.IdleCount:N0} connections, then GET {Size(memory.ValueSize)} × {GetsEach} on {Readers}");
        var key = context.Key("burst");
        try
        {
            using var control = context.Control();
            var set = control.Execute("SET", key, new string('v', memory.ValueSize));
            if (set is not { Kind: RespKind.Simple, Line: "OK" })
            {
                return new ProbeOutcome { Reply = $"not run: SET {key} answered {set}", Burst = memory };
            }
        }
        catch (RespConnectionException e)
        {
            return new ProbeOutcome { Reply = $"not run: SET {key} through the port failed: {e.Message}", Burst = memory };
        }

        var burst = await BurstAsync(context, key, memory, ct);
        context.Sampler.SampleNow();
        memory.PeakMb = context.Sampler.Peak?.RssMb;
        context.Log($"burst: every client closed, peak {Mb(memory.PeakMb ?? 0)}; reading RSS for {options.SettleBurst.TotalSeconds:0} s");
        var fall = await timeline.FollowAsync(memory.IdleMb, WithinMb, options.SettleBurst, PointEvery, ct);
        memory.Series = [.. fall.Points.Select(p => new RssPoint { AtS = p.AtS, RssMb = p.RssMb })];
        memory.ReturnedAfterS = fall.Returned?.AtS;
        memory.ReturnedRssMb = fall.Returned?.RssMb;
        return Outcome(memory, fall, burst, key);
    }

    /// <summary>Opens the crowd, PINGs on each, the big GETs on the first readers; closes every connection and DELs the key.</summary>
    private static async Task<BurstReplies> BurstAsync(ProbeContext context, string key, BurstMemory memory, CancellationToken ct)
    {
        var options = context.Options;
        var pings = new ReplyTally();
        var gets = new ReplyTally();
        var ponged = new ConcurrentQueue<RawClient>();
        List<RawClient> clients = [];
        try
        {
            clients = await Crowd.OpenAsync(context.Target, options.IdleCount, options.Batch, options.ReplyTimeout, async client =>
            {
                var error = await client.SendAsync(Ping, options.ReplyTimeout, ct);
                var reply = error is null ? await new ReplyReader(client.Socket, PingBuffer).ReadAsync(options.ReplyTimeout, ct) : new WholeReply("", -1, error);
                pings.Add(Kind(reply), Kind(reply));
                if (reply is { Ended: null, Line: "+PONG" })
                {
                    ponged.Enqueue(client);
                }
            }, pings, () => context.ProcessGone, ct);
            memory.ConnectionsOpened = clients.Count;
            memory.Pongs = ponged.Count;
            context.Log($"burst: {clients.Count:N0} open, {ponged.Count:N0} PONG; GETs on {Math.Min(Readers, ponged.Count)}");

            var readers = ponged.Take(Readers).ToList();
            var command = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat($"*2\r\n$3\r\nGET\r\n${Encoding.UTF8.GetByteCount(key)}\r\n{key}\r\n", GetsEach)));
            await Task.WhenAll(readers.Select(r => GetAsync(r, command, options.OpTimeout, gets, ct)));
            memory.GetsWhole = gets.Count(kind => kind == "$" + memory.ValueSize.ToString(CultureInfo.InvariantCulture));
            context.Sampler.SampleNow();
            var ended = new ReplyTally();
            foreach (var client in clients)
            {
                if (client.PeerState() is { } how)
                {
                    ended.Add(how, how);
                }
            }

            return new BurstReplies(pings, gets, readers.Count, ended);
        }
        finally
        {
            Crowd.DisposeAll(clients);
            try
            {
                using var control = context.Control();
                control.Execute("DEL", key);
            }
            catch (RespConnectionException e)
            {
                context.Log($"burst: DEL {key} failed: {e.Message}");
            }
        }
    }

    /// <summary>Sends the pipelined GETs, then reads every reply whole (a payload is counted, not kept).</summary>
    private static async Task GetAsync(RawClient client, byte[] command, TimeSpan timeout, ReplyTally gets, CancellationToken ct)
    {
        if (await client.SendAsync(command, timeout, ct) is { } error)
        {
            for (var i = 0; i < GetsEach; i++)
            {
                gets.Add(error, error);
            }

            return;
        }

        var reader = new ReplyReader(client.Socket, GetBuffer);
        for (var i = 0; i < GetsEach; i++)
        {
            var reply = await reader.ReadAsync(timeout, ct);
            gets.Add(Kind(reply), Kind(reply));
            if (reply.Ended is not null)
            {
                // The stream is no longer at a reply boundary (or is gone): the rest cannot be read.
                const string Rest = "not read (an earlier reply on the connection was not whole)";
                for (var rest = i + 1; rest < GetsEach; rest++)
                {
                    gets.Add(Rest, Rest);
                }

                return;
            }
        }
    }

    private static string Kind(WholeReply reply) => reply.Ended is null ? reply.Line
        : reply.Line.Length > 0 ? $"{reply.Line} then {reply.Ended}"
        : reply.Ended;

    private static ProbeOutcome Outcome(BurstMemory m, RssFall fall, BurstReplies burst, string key)
    {
        var n = (int value) => value.ToString("N0", CultureInfo.InvariantCulture);
        var last = fall.Points.Count > 0 ? fall.Points[^1] : default;
        var back = fall.Returned is { } r ? $"within {WithinMb} MB of idle after {r.AtS} s ({Mb(r.RssMb)})" + (last.AtS > r.AtS ? $", {Mb(last.RssMb)} at {last.AtS} s" : string.Empty)
            : fall.Stopped is { } stopped ? $"not within {WithinMb} MB of idle; {stopped}"
            : $"not within {WithinMb} MB after {last.AtS} s ({Mb(last.RssMb)})";
        var reply = $"idle {Mb(m.IdleMb)}, peak {Mb(m.PeakMb ?? 0)}, {back}; burst {n(m.Pongs)}/{n(m.Connections)} PONG, {n(m.GetsWhole)}/{n(m.Gets)} GET {Size(m.ValueSize)} whole";
        var outcome = new ProbeOutcome { Reply = reply, Burst = m };
        var idle = string.Join(", ", m.IdleSamplesMb.Select(v => v.ToString("0.0", CultureInfo.InvariantCulture)));
        outcome.Details.Add($"idle {Mb(m.IdleMb, "0.0")}: median of {idle} MB, 1 s apart, " + (m.QuietAfterS is { } q
            ? $"after {q:0} s of waiting until quiet (same descriptors, RSS within 2 MB, over 6 readings 1 s apart)"
            : $"though not quiet after {QuietLimit.TotalSeconds:0} s (descriptors or RSS still moving)"));
        outcome.Details.Add($"burst: {n(m.ConnectionsOpened)} of {n(m.Connections)} connections opened, PING on each: {burst.Pings.Summary()}");
        outcome.Details.Add($"GET {key} ({n(m.ValueSize)} bytes) × {GetsEach} pipelined on {burst.Readers} of them, replies read whole: {burst.Gets.Summary()}");
        outcome.Details.Add(burst.Ended.Entries().Count == 0
            ? "the target ended none of them before the tool closed them"
            : $"ended by the target before the tool closed them: {burst.Ended.Summary()}");
        outcome.Details.Add($"peak {Mb(m.PeakMb ?? 0, "0.0")} (read every 200 ms from the start of the probe to the close)");
        var marks = fall.Points.Where(p => Marks.Contains(p.AtS)).Select(p => $"{p.AtS} s {p.RssMb:0.0}");
        outcome.Details.Add($"RSS MB at {string.Join("/", Marks)} s: {string.Join(", ", marks)}");
        outcome.Details.Add($"RSS MB after the last client closed, every {PointEvery} s: {string.Join(", ", fall.Points.Select(p => $"{p.AtS} s {p.RssMb:0.0}"))}");
        outcome.Details.Add(fall.Returned is { } at
            ? $"first within {WithinMb} MB of idle (≤ {m.IdleMb + WithinMb:0.0} MB) {at.AtS} s after the close, at {at.RssMb:0.0} MB (read every second)"
            : $"never within {WithinMb} MB of idle (≤ {m.IdleMb + WithinMb:0.0} MB) in {fall.Points.LastOrDefault().AtS} s (read every second)" + (fall.Stopped is { } s ? $": {s}" : string.Empty));
        outcome.Details.AddRange(burst.Pings.Samples());
        outcome.Details.AddRange(burst.Gets.Samples());
        return outcome;
    }

    private static string Mb(double mb, string format = "0") => mb.ToString(format, CultureInfo.InvariantCulture) + " MB";

    private static string Size(int bytes) => bytes switch
    {
        >= 1024 * 1024 when bytes % (1024 * 1024) == 0 => $"{bytes / (1024 * 1024)} MB",
        >= 1024 when bytes % 1024 == 0 => $"{bytes / 1024} KB",
        _ => $"{bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes",
    };

    private sealed record BurstReplies(ReplyTally Pings, ReplyTally Gets, int Readers, ReplyTally Ended);
}
