using Serilog.Events;

namespace ClusterGate.Hosting;

/// <summary>
/// The level each log source writes at: <c>--log-level</c>, except where <c>LogLevels</c> names the source.
/// A name matches a logger category as Serilog's own overrides do, the category itself or a namespace above it
/// (<c>ClusterGate.Core.Topology</c>), and also by the short name the console shows, the part after the last dot
/// (<c>TopologyMonitor</c> for <c>ClusterGate.Core.Topology.TopologyMonitor</c>, <c>ShardSession</c> for
/// <c>ClusterGate.ShardSession</c>), so the name an operator reads in a log line is the name that tunes it.
/// Serilog's overrides match prefixes only, and the categories are partly type names, partly fixed strings: the
/// choice is made here, once per category when its logger is created (<see cref="SourceLevelLoggerFactory"/>).
/// </summary>
internal sealed class SourceLevels
{
    private readonly LogEventLevel _default;
    private readonly Dictionary<string, LogEventLevel> _overrides;

    public SourceLevels(LogEventLevel level, IReadOnlyDictionary<string, string>? overrides)
    {
        _default = level;
        _overrides = new(StringComparer.OrdinalIgnoreCase)
        {
            // Kestrel's per-request lines are noise for an admin port; keep its warnings unless asked otherwise.
            ["Microsoft"] = (LogEventLevel)Math.Max((int)level, (int)LogEventLevel.Warning),
        };
        foreach (var (source, text) in overrides ?? new Dictionary<string, string>())
        {
            _overrides[source] = HostLogging.ParseLevel(text);
        }

        Lowest = (LogEventLevel)Math.Min((int)level, _overrides.Values.Min(l => (int)l));
    }

    /// <summary>The most detailed level any source writes at: what Serilog itself must let through.</summary>
    public LogEventLevel Lowest { get; }

    /// <summary>
    /// The level of <paramref name="category"/>: its short name when named, else the longest matching prefix, else
    /// the default.
    /// </summary>
    public LogEventLevel For(string category)
    {
        var shortName = category[(category.LastIndexOf('.') + 1)..];
        if (_overrides.TryGetValue(shortName, out var named))
        {
            return named;
        }

        var level = _default;
        var longest = -1;
        foreach (var (source, sourceLevel) in _overrides)
        {
            var matches = category.Length == source.Length
                ? category.Equals(source, StringComparison.OrdinalIgnoreCase)
                : category.Length > source.Length && category[source.Length] == '.' && category.StartsWith(source, StringComparison.OrdinalIgnoreCase);
            if (matches && source.Length > longest)
            {
                longest = source.Length;
                level = sourceLevel;
            }
        }

        return level;
    }
}
