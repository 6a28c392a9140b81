using System.Globalization;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// Runs <c>tools/clients/run.sh</c>: node-redis and ioredis with their default options (both negotiate RESP3) doing
/// MULTI/EXEC, a SUBSCRIBE/PUBLISH round trip and a BLPOP woken by another connection's LPUSH. It installs the
/// pinned packages with <c>npm ci</c> on first use; tools/test.sh installs Node.js and npm when they are missing.
/// </summary>
internal static class NodeClientBattery
{
    /// <summary>Room for a first <c>npm ci</c> and for every step of both libraries timing out.</summary>
    public static readonly TimeSpan RunBound = TimeSpan.FromMinutes(5);

    /// <summary>Runs the battery against 127.0.0.1:<paramref name="port"/> and asserts that every step passed.</summary>
    public static async Task AssertAllStepsPassAsync(int port, ITestOutputHelper output, CancellationToken ct)
    {
        var script = Path.Combine(Repository.Root(), "tools", "clients", "run.sh");
        var (exitCode, stdout, stderr, elapsed) = await ProcessRunner.RunAsync(
            "bash", [script, "127.0.0.1", port.ToString(CultureInfo.InvariantCulture)], null, RunBound, ct);
        output.WriteLine($"{script} 127.0.0.1 {port}: exit {exitCode} in {elapsed.TotalSeconds:0.0} s\nstdout:\n{stdout}\nstderr:\n{stderr}");

        var failed = stdout.Split('\n').Where(l => l.Contains(" FAIL ", StringComparison.Ordinal)).ToList();
        Assert.True(exitCode == 0, exitCode switch
        {
            3 => $"node or npm is missing (tools/test.sh installs them): {stderr.Trim()}",
            _ => $"node client battery exited with {exitCode}; failed steps:\n{string.Join("\n", failed)}\n{stderr.Trim()}",
        });
        Assert.Empty(failed);
        Assert.Contains("all steps ok", stdout, StringComparison.Ordinal);
    }
}
