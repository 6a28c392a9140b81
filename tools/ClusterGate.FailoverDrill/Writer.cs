using System.Diagnostics;
using System.Globalization;

namespace ClusterGate.FailoverDrill;

/// <summary>An acknowledged write: its sequence number, when it was sent and when the ack arrived.</summary>
internal readonly record struct Ack(int Seq, long SentAt, long DoneAt);

/// <summary>A write that did not get OK: error kind (first word, or DISCONNECT / TIMEOUT), the error text and when.</summary>
internal readonly record struct Failure(string Kind, string Detail, long SentAt, long DoneAt);

/// <summary>
/// What the drill needs to know while the writers run: the latest send time of any acknowledged write,
/// so it can tell when writes sent after a crash are acknowledged again. Writers own their lists; this is
/// the only state read across threads before they stop.
/// </summary>
internal sealed class AckWatch
{
    private long _latestSentAt;

    public long LatestSentAt => Interlocked.Read(ref _latestSentAt);

    public void Acked(long sentAt)
    {
        var seen = Interlocked.Read(ref _latestSentAt);
        while (sentAt > seen)
        {
            var previous = Interlocked.CompareExchange(ref _latestSentAt, sentAt, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}

/// <summary>
/// One client connection writing unique keys through the target at a steady rate, one command in
/// flight at a time. A dropped or timed-out connection is counted, closed, and re-opened after 100 ms.
/// </summary>
internal sealed class Writer
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(100);
    private readonly DrillOptions _options;
    private readonly string _keyPrefix;
    private readonly string _valuePrefix;
    private readonly long _intervalTicks;
    private readonly AckWatch _watch;
    private Thread? _thread;
    private volatile bool _stop;

    public Writer(int index, DrillOptions options, string keyPrefix, string valuePrefix, double ratePerWriter, AckWatch watch)
    {
        _watch = watch;
        Index = index;
        _options = options;
        _keyPrefix = keyPrefix;
        _valuePrefix = valuePrefix;
        _intervalTicks = (long)(Stopwatch.Frequency / ratePerWriter);
    }

    public int Index { get; }
    public int Attempted { get; private set; }
    public int Disconnects { get; private set; }
    public int Timeouts { get; private set; }
    public int ConnectFailures => ConnectFailureTimes.Count;
    public List<long> ConnectFailureTimes { get; } = [];
    public List<Ack> Acks { get; } = [];
    public List<Failure> Failures { get; } = [];

    public string Key(int seq) => _keyPrefix + seq.ToString(CultureInfo.InvariantCulture);

    public string Value(int seq) => _valuePrefix + seq.ToString(CultureInfo.InvariantCulture);

    public void Start(long startAt)
    {
        _thread = new Thread(() => Run(startAt)) { IsBackground = true, Name = $"writer-{Index}" };
        _thread.Start();
    }

    public void Stop() => _stop = true;

    public void Join() => _thread?.Join();

    private void Run(long startAt)
    {
        RespConnection? connection = null;
        // Spread the writers over one interval so the total rate is smooth.
        var next = startAt + (_intervalTicks * Index / Math.Max(1, _options.Clients));
        var seq = 0;
        try
        {
            while (!_stop)
            {
                var now = Stopwatch.GetTimestamp();
                if (next > now)
                {
                    var waitMs = (next - now) * 1000 / Stopwatch.Frequency;
                    Thread.Sleep((int)Math.Max(0, waitMs));
                    continue;
                }

                // Never burst to catch up after a stall: keep the steady rate from here on.
                next = Math.Max(next, now - _intervalTicks) + _intervalTicks;

                if (connection is null)
                {
                    try
                    {
                        connection = RespConnection.Connect(_options.Target, _options.OpTimeout);
                    }
                    catch (RespConnectionException)
                    {
                        ConnectFailureTimes.Add(Stopwatch.GetTimestamp());
                        Thread.Sleep(ReconnectDelay);
                        continue;
                    }
                }

                var current = ++seq;
                var sentAt = Stopwatch.GetTimestamp();
                Attempted++;
                try
                {
                    var reply = connection.Execute("SET", Key(current), Value(current));
                    var doneAt = Stopwatch.GetTimestamp();
                    if (reply.Kind == RespKind.Simple && reply.Line == "OK")
                    {
                        Acks.Add(new Ack(current, sentAt, doneAt));
                        _watch.Acked(sentAt);
                    }
                    else
                    {
                        var kind = reply.IsError ? reply.ErrorKind : "UNEXPECTED";
                        Failures.Add(new Failure(kind, reply.IsError ? reply.Line ?? string.Empty : reply.ToString(), sentAt, doneAt));
                    }
                }
                catch (RespConnectionException e)
                {
                    var kind = e.TimedOut ? "TIMEOUT" : "DISCONNECT";
                    if (e.TimedOut)
                    {
                        Timeouts++;
                    }
                    else
                    {
                        Disconnects++;
                    }

                    Failures.Add(new Failure(kind, e.Message, sentAt, Stopwatch.GetTimestamp()));
                    connection.Dispose();
                    connection = null;
                    Thread.Sleep(ReconnectDelay);
                }
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }
}
