using Microsoft.Win32.SafeHandles;

namespace ClusterGate.Core.Transport;

/// <summary>
/// How many more client connections the process can take without running out of file descriptors. Running
/// out is not survivable in general: the runtime opens files as it goes (the GC reads <c>/proc/meminfo</c>,
/// assemblies load lazily), and .NET dies ("Out of memory") when it cannot; the topology monitor needs
/// connections too. So clients are admitted only while the descriptors in use, plus theirs, stay a reserve
/// below <c>RLIMIT_NOFILE</c>; and a few spare descriptors are held open, to be given back the moment an
/// accept fails for want of descriptors (an operator lowered the limit, something leaked), so the runtime
/// still finds one.
/// </summary>
/// <remarks>
/// In use = what the process held apart from admitted clients when last counted (<c>/proc/self/fd</c>) plus what
/// admitted clients hold now (exact, kept here). The limit is read at every admission and every tenth of a second
/// (<c>getrlimit</c>, which needs no descriptor): it can change at run time (<c>prlimit</c>). Counting is cheap but not free, so it
/// happens at most once a second, and only when the estimate comes near the limit.
/// </remarks>
public sealed class DescriptorBudget : IDisposable
{
    /// <summary>
    /// Kept free for what the process opens as it runs: assemblies loaded late (the runtime holds two descriptors
    /// per assembly), control connections to every node, reconnects, log files, admin HTTP requests.
    /// </summary>
    public const int DefaultReserve = 48;

    /// <summary>Descriptors held open to be given back when accepts fail with <c>EMFILE</c>.</summary>
    public const int SpareCount = 16;

    private static readonly TimeSpan RereadPeriod = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often the limit is watched while no client connects. Between a lowered limit and the spares given back the
    /// runtime may need a descriptor and die for want of one: a second was seen to be too long under load, and a
    /// <c>getrlimit</c> ten times a second costs nothing measurable.
    /// </summary>
    private static readonly TimeSpan WatchPeriod = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Func<long?> _countOpen;
    private readonly Func<long?> _readLimit;
    private readonly List<SafeFileHandle> _spares = [];
    private long _limit = long.MaxValue;
    private long _watchedLimit = long.MaxValue;
    private long _base;
    private long _admitted;
    private long _limitReadAt;
    private long _countedAt;
    private long _exhaustions;
    private ITimer? _watch;

    public DescriptorBudget(int reserve = DefaultReserve, TimeProvider? time = null, Func<long?>? countOpen = null, Func<long?>? readLimit = null)
    {
        Reserve = reserve;
        _time = time ?? TimeProvider.System;
        _countOpen = countOpen ?? CountOpen;
        _readLimit = readLimit ?? Libc.DescriptorLimit;
        lock (_gate)
        {
            TakeSparesLocked();
            RereadLocked(count: true);
        }

        // The limit can drop under the process (prlimit) while no client connects: watched all the time too.
        _watch = _time.CreateTimer(_ => WatchLimit(), null, WatchPeriod, WatchPeriod);
    }

    public int Reserve { get; }

    /// <summary><c>RLIMIT_NOFILE</c> (soft) when last read; <see cref="long.MaxValue"/> when unknown.</summary>
    public long Limit
    {
        get
        {
            lock (_gate)
            {
                return _limit;
            }
        }
    }

    /// <summary>Descriptors in use, as estimated now.</summary>
    public long InUse
    {
        get
        {
            lock (_gate)
            {
                return _base + _admitted;
            }
        }
    }

    /// <summary>Times an accept failed for want of descriptors (the spares were given back each time they were held).</summary>
    public long Exhaustions => Interlocked.Read(ref _exhaustions);

    /// <summary>Takes <paramref name="descriptors"/> for a new client; false when that would eat into the reserve.</summary>
    public bool TryTake(int descriptors)
    {
        lock (_gate)
        {
            // The limit at every admission: getrlimit is cheap and needs no descriptor, and on io_uring the accept itself
            // does not follow a lowered limit (a multishot accept takes RLIMIT_NOFILE when it is armed).
            if (_readLimit() is { } current)
            {
                _limit = current;
            }

            var now = _time.GetTimestamp();
            if (_time.GetElapsedTime(_limitReadAt, now) >= RereadPeriod)
            {
                var near = _base + _admitted + descriptors + Reserve > _limit - (_limit / 4);
                RereadLocked(count: near && _time.GetElapsedTime(_countedAt, now) >= RereadPeriod);
            }

            if (_base + _admitted + descriptors + Reserve > _limit)
            {
                return false;
            }

            _admitted += descriptors;
            return true;
        }
    }

    public void Return(int descriptors)
    {
        lock (_gate)
        {
            _admitted -= descriptors;
        }
    }

    /// <summary>
    /// An accept failed with <c>EMFILE</c>/<c>ENFILE</c>: give the spares back so the runtime and the topology
    /// monitor find descriptors, and look at the limit again so admission follows it.
    /// </summary>
    public void OnExhausted()
    {
        Interlocked.Increment(ref _exhaustions);
        lock (_gate)
        {
            GiveBackSparesLocked();
            RereadLocked(count: true);
        }
    }

    private void GiveBackSparesLocked()
    {
        foreach (var spare in _spares)
        {
            spare.Dispose();
        }

        _base -= _spares.Count;
        _spares.Clear();
    }

    /// <summary>
    /// Reads the limit (no descriptor needed) and, when it has come down to what the process holds, gives the
    /// spares back before anything else finds no descriptor: the runtime cannot survive that, an accept can.
    /// A lowered limit is checked against a fresh count: the estimate misses what the process opened since it last
    /// counted (connections opened on first use), and on io_uring no accept fails to tell (a multishot accept
    /// keeps the limit it was armed with). When even counting fails, the process is out: the spares go back.
    /// </summary>
    private void WatchLimit()
    {
        lock (_gate)
        {
            if (_readLimit() is not { } limit)
            {
                return;
            }

            // Against what this watch saw last: an admission reads the limit too, and must not hide that it came down.
            var lowered = limit < _watchedLimit;
            _watchedLimit = limit;
            _limit = limit;
            if (_spares.Count == 0)
            {
                return;
            }

            // Counting takes a descriptor: when even that fails under a lowered limit, the process is out.
            var exhausted = lowered && !CountLocked(_time.GetTimestamp());
            if (exhausted || _base + _admitted + SpareCount >= limit)
            {
                Interlocked.Increment(ref _exhaustions);
                GiveBackSparesLocked();
            }
        }
    }

    /// <summary>Counts and reads the limit now (and takes the spares again when there is room).</summary>
    public void Recount()
    {
        lock (_gate)
        {
            RereadLocked(count: true);
        }
    }

    public void Dispose()
    {
        _watch?.Dispose();
        _watch = null;
        lock (_gate)
        {
            GiveBackSparesLocked();
        }
    }

    private void RereadLocked(bool count)
    {
        var now = _time.GetTimestamp();
        _limitReadAt = now;
        if (_readLimit() is { } limit)
        {
            _limit = limit;
        }

        if (count)
        {
            CountLocked(now);
        }

        // The spares come back once the process is well inside its limit again.
        if (_spares.Count == 0 && _base + _admitted + Reserve + SpareCount < _limit)
        {
            _base += TakeSparesLocked();
        }
    }

    /// <summary>What the process holds apart from admitted clients, counted now; false when it cannot be counted.</summary>
    private bool CountLocked(long now)
    {
        if (_countOpen() is not { } open)
        {
            return false;
        }

        _countedAt = now;
        _base = Math.Max(0, open - _admitted);
        return true;
    }

    private int TakeSparesLocked()
    {
        try
        {
            while (_spares.Count < SpareCount)
            {
                _spares.Add(File.OpenHandle("/dev/null"));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not on Linux, or none to spare right now: try again at the next look.
        }

        return _spares.Count;
    }

    /// <summary>Entries of <c>/proc/self/fd</c> (listing it takes one descriptor); null when that fails.</summary>
    private static long? CountOpen()
    {
        try
        {
            long count = 0;
            foreach (var unused in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                count++;
            }

            return count;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
