using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// A StackExchange.Redis <see cref="ConnectionMultiplexer"/> made from nothing but an endpoint (every setting at its
/// default, as an application would write it) that records every sign of trouble: the <c>ConnectionFailed</c>,
/// <c>ErrorMessage</c> and <c>InternalError</c> events and the lines of its connect log that report an error.
/// <see cref="AssertNoErrors"/> fails with all of them; dispose writes the log to the test output.
/// </summary>
internal sealed partial class ObservedMultiplexer : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _problems = new();
    private readonly StringWriter _log;

    /// <summary>What StackExchange.Redis writes to: every write locks this writer, so a read under the same lock sees whole lines.</summary>
    private readonly TextWriter _logWriter;
    private readonly ITestOutputHelper _output;
    private readonly string _name;

    private ObservedMultiplexer(ConnectionMultiplexer multiplexer, StringWriter log, TextWriter logWriter, ITestOutputHelper output, string name)
    {
        Multiplexer = multiplexer;
        _log = log;
        _logWriter = logWriter;
        _output = output;
        _name = name;
        multiplexer.ConnectionFailed += (_, e) => _problems.Enqueue($"ConnectionFailed {e.EndPoint} {e.ConnectionType} {e.FailureType}: {e.Exception?.Message}");
        multiplexer.ErrorMessage += (_, e) => _problems.Enqueue($"ErrorMessage {e.EndPoint}: {e.Message}");
        multiplexer.InternalError += (_, e) => _problems.Enqueue($"InternalError {e.EndPoint} {e.ConnectionType} in {e.Origin}: {e.Exception}");
    }

    public ConnectionMultiplexer Multiplexer { get; }

    public IDatabase Database => Multiplexer.GetDatabase();

    /// <summary>The one server behind the endpoint (a standalone Redis, or the router looking like one).</summary>
    public IServer Server => Multiplexer.GetServer(Multiplexer.GetEndPoints().Single());

    /// <summary>Connects with the default configuration; the connect itself is bounded by <paramref name="timeout"/>.</summary>
    public static async Task<ObservedMultiplexer> ConnectAsync(int port, string name, ITestOutputHelper output, TimeSpan timeout, CancellationToken ct)
    {
        var log = new StringWriter(CultureInfo.InvariantCulture);
        var logWriter = TextWriter.Synchronized(log);
        ConnectionMultiplexer multiplexer;
        try
        {
            multiplexer = await ConnectionMultiplexer.ConnectAsync(string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}"), logWriter).WaitAsync(timeout, ct);
        }
        catch
        {
            lock (logWriter)
            {
                output.WriteLine($"StackExchange.Redis log of '{name}' (connect failed):\n{log}");
            }

            await logWriter.DisposeAsync();
            throw;
        }

        return new ObservedMultiplexer(multiplexer, log, logWriter, output, name);
    }

    /// <summary>Every problem seen so far: events, and connect-log lines that report an error.</summary>
    public IReadOnlyList<string> Problems()
    {
        string log = LogText();

        return [.. _problems, .. log.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => LogError().IsMatch(l)).Select(l => "log: " + l)];
    }

    public void AssertNoErrors()
    {
        var problems = Problems();
        Assert.True(problems.Count == 0, $"StackExchange.Redis '{_name}' reported {problems.Count} problem(s):\n{string.Join("\n", problems)}");
    }

    public async ValueTask DisposeAsync()
    {
        await Multiplexer.DisposeAsync();
        _output.WriteLine($"StackExchange.Redis log of '{_name}':\n{LogText()}");
        await _logWriter.DisposeAsync();
    }

    private string LogText()
    {
        lock (_logWriter)
        {
            return _log.ToString();
        }
    }

    /// <summary>What StackExchange.Redis writes to its connect log when something went wrong (never on a clean connect).</summary>
    [GeneratedRegex(@"\b(error|exception|fail(ed|ing|ure|s)?|faulted|refused|unable|timeout|timed out|dead socket|NOPROTO|ERR|WRONGTYPE|NOSCRIPT|CROSSSLOT)\b", RegexOptions.IgnoreCase)]
    private static partial Regex LogError();
}
