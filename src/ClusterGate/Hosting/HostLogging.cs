using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Json;
using Serilog.Extensions.Logging;
using ILoggerFactory = Microsoft.Extensions.Logging.ILoggerFactory;

namespace ClusterGate.Hosting;

/// <summary>Serilog for the executable only; the engine sees nothing but <see cref="Microsoft.Extensions.Logging.ILoggerFactory"/>.</summary>
internal static class HostLogging
{
    private const string OutputTemplate = "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} {Level:u3} {Source}: {Message:lj}{NewLine}{Exception}";

    /// <param name="level">The level of every source not in <paramref name="sourceLevels"/>.</param>
    /// <param name="sourceLevels">Source (short or full name, see <see cref="SourceLevels"/>) → level.</param>
    public static ILoggerFactory CreateLoggerFactory(string level, IReadOnlyDictionary<string, string>? sourceLevels = null, string? seqUrl = null, string? logFile = null)
    {
        var levels = new SourceLevels(ParseLevel(level), sourceLevels);
        var configuration = new LoggerConfiguration()
            // Serilog lets the most detailed source level through; each logger holds its own source to its level.
            .MinimumLevel.Is(levels.Lowest)
            .Enrich.With<ShortSourceContext>()
            // Relay code logs on the socket event threads (a backend lost, a session moved), which must
            // never block: the console is written by a background worker. When its buffer is full, events
            // are dropped rather than stalling the relay; disposing the logger factory flushes the rest.
            .WriteTo.Async(
                sink => sink.Console(outputTemplate: OutputTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture),
                bufferSize: 10_000,
                blockWhenFull: false);
        if (logFile is { Length: > 0 })
        {
            // One JSON object per line (message template, rendered text, properties), a new file each day, a week kept.
            configuration = configuration.WriteTo.Async(
                sink => sink.File(new JsonFormatter(renderMessage: true), logFile, rollingInterval: RollingInterval.Day, retainedFileCountLimit: 7),
                bufferSize: 10_000,
                blockWhenFull: false);
        }

        if (seqUrl is { Length: > 0 })
        {
            // Structured events (the failover's properties, not only its text) to Seq; the sink batches and posts
            // from its own worker, so the relay threads never wait on HTTP.
            configuration = configuration.WriteTo.Seq(seqUrl, period: TimeSpan.FromMilliseconds(500));
        }

        return new SourceLevelLoggerFactory(new SerilogLoggerFactory(configuration.CreateLogger(), dispose: true), levels);
    }

    /// <summary>Accepts Serilog's and Microsoft.Extensions.Logging's level names; validated before this.</summary>
    public static LogEventLevel ParseLevel(string level) => level.ToUpperInvariant() switch
    {
        "VERBOSE" or "TRACE" => LogEventLevel.Verbose,
        "DEBUG" => LogEventLevel.Debug,
        "WARNING" => LogEventLevel.Warning,
        "ERROR" => LogEventLevel.Error,
        "FATAL" or "CRITICAL" => LogEventLevel.Fatal,
        _ => LogEventLevel.Information,
    };

    /// <summary>"TopologyMonitor" instead of "ClusterGate.Core.Topology.TopologyMonitor", to keep lines short.</summary>
    private sealed class ShortSourceContext : ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
        {
            var source = logEvent.Properties.TryGetValue(Constants.SourceContextPropertyName, out var value) && value is ScalarValue { Value: string name }
                ? name[(name.LastIndexOf('.') + 1)..]
                : "clustergate";
            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("Source", source));
        }
    }
}
