using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>
/// Writes the in-process gateway's logs to the running test's output, so a failing test shows what the
/// gateway did. The target is swappable: a gateway shared by a test class logs into whichever test runs.
/// </summary>
internal sealed class TestOutputLoggerProvider : ILoggerProvider
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private ITestOutputHelper? _output;

    public TestOutputLoggerProvider(ITestOutputHelper? output = null) => _output = output;

    public ITestOutputHelper? Output
    {
        get => Volatile.Read(ref _output);
        set => Volatile.Write(ref _output, value);
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName[(categoryName.LastIndexOf('.') + 1)..]);

    /// <summary>One line to the test output; dropped when no test is running (xunit throws then).</summary>
    public void WriteLine(string message)
    {
        var output = Output;
        if (output is null)
        {
            return;
        }

        try
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,8:0.000}] {message}"));
        }
        catch (InvalidOperationException)
        {
            // The test this output belongs to has finished.
        }
    }

    public void Dispose() => Output = null;

    private sealed class Logger(TestOutputLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = $"{Level(logLevel)} {category}: {formatter(state, exception)}";
            if (exception is not null)
            {
                text += Environment.NewLine + exception;
            }

            provider.WriteLine(text);
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "WARN",
            LogLevel.Error => "FAIL",
            _ => "CRIT",
        };
    }
}
