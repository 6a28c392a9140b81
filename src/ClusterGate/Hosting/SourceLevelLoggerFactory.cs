using Microsoft.Extensions.Logging;
using Serilog.Events;

namespace ClusterGate.Hosting;

/// <summary>
/// Gives each logger the level of its source (<see cref="SourceLevels"/>) in front of a factory that lets the
/// lowest of them through. The level is fixed when the logger is created, so <c>IsEnabled</c> stays one comparison
/// and a source held back costs no more than Serilog's own minimum level.
/// </summary>
internal sealed class SourceLevelLoggerFactory(ILoggerFactory inner, SourceLevels levels) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        var level = levels.For(categoryName);
        return level <= levels.Lowest ? logger : new LevelLogger(logger, ToLogLevel(level));
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();

    /// <summary>Serilog's levels and Microsoft.Extensions.Logging's have the same order and values, Verbose/Trace to Fatal/Critical.</summary>
    private static LogLevel ToLogLevel(LogEventLevel level) => (LogLevel)(int)level;

    private sealed class LevelLogger(ILogger inner, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= minimum)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
