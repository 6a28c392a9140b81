using System.Globalization;

namespace ClusterGate.Core.Transport;

/// <summary>
/// How many more client connections the process can take without running out of file descriptors. Running
/// out is not survivable in general: the runtime and the topology monitor need descriptors too, and .NET dies
/// ("Out of memory", internal CLR errors) when it cannot get one. So clients are admitted only while the
/// descriptors in use, plus theirs, stay a reserve below <c>RLIMIT_NOFILE</c>.
/// </summary>
/// <remarks>
/// In use = what the process held apart from admitted clients when last counted (<c>/proc/self/fd</c>) plus what
/// admitted clients hold now (exact, kept here). Counting is cheap but not free, so it happens at most once a
/// second, and only when the estimate comes near the limit. The limit is read again at each count: an operator
/// may change it at run time (<c>prlimit</c>).
/// </remarks>
public sealed class DescriptorBudget
{
    /// <summary>Kept free for the runtime, logs, control connections to every node and reconnects.</summary>
    public const int DefaultReserve = 128;

    private static readonly TimeSpan RecountPeriod = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Func<long>? _countOpen;
    private readonly Func<long>? _readLimit;
    private long _limit;
    private long _base;
    private long _admitted;
    private long _countedAt;

    public DescriptorBudget(int reserve = DefaultReserve, TimeProvider? time = null, Func<long>? countOpen = null, Func<long>? readLimit = null)
    {
        Reserve = reserve;
        _time = time ?? TimeProvider.System;
        _countOpen = countOpen;
        _readLimit = readLimit;
        Recount();
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

    /// <summary>Takes <paramref name="descriptors"/> for a new client; false when that would eat into the reserve.</summary>
    public bool TryTake(int descriptors)
    {
        lock (_gate)
        {
            if (_base + _admitted + descriptors + Reserve > _limit - (_limit / 4) && _time.GetElapsedTime(_countedAt) >= RecountPeriod)
            {
                RecountLocked();
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

    public void Recount()
    {
        lock (_gate)
        {
            RecountLocked();
        }
    }

    private void RecountLocked()
    {
        _countedAt = _time.GetTimestamp();
        _limit = (_readLimit ?? ReadSoftLimit)();
        var open = (_countOpen ?? CountOpen)();
        _base = Math.Max(0, open - _admitted);
    }

    /// <summary>Entries of <c>/proc/self/fd</c>; 0 where there is no such folder.</summary>
    private static long CountOpen()
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
            return 0;
        }
    }

    /// <summary>The soft "Max open files" of <c>/proc/self/limits</c>.</summary>
    private static long ReadSoftLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : long.MaxValue;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return long.MaxValue;
    }
}
