using System.Diagnostics;
using System.Globalization;
using ClusterGate.Hostile.Resp;

namespace ClusterGate.Hostile.Target;

/// <summary>What the well-behaved client saw during one probe. MaxMs includes a command still waiting at the end.</summary>
internal sealed record GoodStats(int Commands, int Errors, double MaxMs, string? FirstError, double StalledMs);

/// <summary>
/// The well-behaved client: its own connection, one command in flight, SET then GET of its own key, over and over
/// for the whole run. A probe opens a window (<see cref="BeginWindow"/>) and reads what happened in it
/// (<see cref="EndWindow"/>): commands, errors, the slowest command. A lost or timed-out connection is an error;
/// the client reconnects after 100 ms, and a connect counts as a command (so a gateway that stops accepting shows).
/// </summary>
internal sealed class GoodClient : IDisposable
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(100);
    private readonly string _target;
    private readonly string _key;
    private readonly TimeSpan _opTimeout;
    private readonly TimeSpan _pause;
    private readonly Lock _gate = new();
    private Thread? _thread;
    private volatile bool _stop;
    private int _commands;
    private int _errors;
    private double _maxMs;
    private string? _firstError;
    private long _inFlightSince;

    public GoodClient(string target, string key, TimeSpan opTimeout, TimeSpan pause)
    {
        _target = target;
        _key = key;
        _opTimeout = opTimeout;
        _pause = pause;
    }

    private enum Outcome
    {
        Ok,
        Error,
        Lost,
    }

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "good-client" };
        _thread.Start();
    }

    public void BeginWindow()
    {
        lock (_gate)
        {
            _commands = 0;
            _errors = 0;
            _maxMs = 0;
            _firstError = null;
        }
    }

    public GoodStats EndWindow()
    {
        lock (_gate)
        {
            var stalled = _inFlightSince == 0 ? 0 : Durations.Ms(_inFlightSince);
            return new GoodStats(_commands, _errors, Math.Max(_maxMs, stalled), _firstError, stalled);
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread?.Join(_opTimeout + TimeSpan.FromSeconds(2));
    }

    private void Run()
    {
        RespConnection? connection = null;
        long n = 0;
        while (!_stop)
        {
            if (connection is null)
            {
                connection = Connect();
                if (connection is null)
                {
                    Thread.Sleep(ReconnectDelay);
                    continue;
                }
            }

            var value = "good:" + (++n).ToString(CultureInfo.InvariantCulture);
            var outcome = Command(connection, ["SET", _key, value], r => r is { Kind: RespKind.Simple, Line: "OK" });
            if (outcome == Outcome.Ok)
            {
                outcome = Command(connection, ["GET", _key], r => r.Kind == RespKind.Bulk && r.Text == value);
            }

            if (outcome == Outcome.Lost)
            {
                connection.Dispose();
                connection = null;
                Thread.Sleep(ReconnectDelay);
            }
            else if (_pause > TimeSpan.Zero)
            {
                Thread.Sleep(_pause);
            }
        }

        connection?.Dispose();
    }

    private RespConnection? Connect()
    {
        var started = Begin();
        try
        {
            var connection = RespConnection.Connect(_target, _opTimeout);
            End(started, null);
            return connection;
        }
        catch (RespConnectionException e)
        {
            End(started, "connect: " + e.Message);
            return null;
        }
    }

    private Outcome Command(RespConnection connection, string[] args, Func<RespValue, bool> expected)
    {
        var started = Begin();
        try
        {
            var reply = connection.Execute(args);
            var ok = expected(reply);
            End(started, ok ? null : $"{args[0]}: unexpected reply {Truncate(reply.ToString())}");
            return ok ? Outcome.Ok : Outcome.Error;
        }
        catch (RespConnectionException e)
        {
            End(started, $"{args[0]}: {(e.TimedOut ? $"no reply in {Durations.Format(_opTimeout)}" : e.Message)}");
            return Outcome.Lost;
        }
    }

    private long Begin()
    {
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            _inFlightSince = now;
        }

        return now;
    }

    private void End(long started, string? error)
    {
        var ms = Durations.Ms(started);
        lock (_gate)
        {
            _inFlightSince = 0;
            _commands++;
            _maxMs = Math.Max(_maxMs, ms);
            if (error is not null)
            {
                _errors++;
                _firstError ??= error;
            }
        }
    }

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
