using System.Globalization;

namespace ClusterGate.Hostile.Target;

/// <summary>Resident memory (VmRSS) and open descriptors of the process under test at one moment.</summary>
internal readonly record struct ProcessSample(long RssKb, int Fds)
{
    public double RssMb => RssKb / 1024.0;
}

/// <summary>The machine's memory from /proc/meminfo, in KB.</summary>
internal readonly record struct MachineMemory(long TotalKb, long AvailableKb);

/// <summary>
/// Reads /proc for the process under test (<c>--pid</c>): VmRSS from status, the number of entries in fd/.
/// Without a pid every reading is null ("-" in the table). Also reads the machine's MemAvailable, the guard
/// that stops a probe before it takes the whole machine down with the target.
/// </summary>
internal sealed class ProcessWatch(int? pid)
{
    public int? Pid => pid;

    /// <summary>Null without a pid; false once the process is gone or a zombie.</summary>
    public bool? Exists()
    {
        if (pid is null)
        {
            return null;
        }

        try
        {
            var state = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("State:", StringComparison.Ordinal));
            return state is not null && !state.Contains("zombie", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public ProcessSample? Sample()
    {
        if (pid is null)
        {
            return null;
        }

        try
        {
            var rss = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            if (rss is null)
            {
                return null;
            }

            var fds = Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
            return new ProcessSample(KbValue(rss), fds);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>MemTotal and MemAvailable of this machine (null when /proc/meminfo cannot be read).</summary>
    public static MachineMemory? ReadMachineMemory()
    {
        try
        {
            var lines = File.ReadLines("/proc/meminfo").ToList();
            var total = lines.FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var available = lines.FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
            return total is null || available is null ? null : new MachineMemory(KbValue(total), KbValue(available));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>"VmRSS:\t  12345 kB" → 12345.</summary>
    private static long KbValue(string line)
    {
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb : 0;
    }
}
