using System.Net;
using System.Net.Sockets;
using ClusterGate.IntegrationTests.Infrastructure;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// Runs the real <c>clustergate</c> executable (copied next to the tests by the project reference)
/// in a child process, for commands that write to the console directly.
/// </summary>
internal static class CliProcess
{
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(TimeSpan timeout, CancellationToken ct, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "clustergate.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: the test project must reference src/ClusterGate.");
        }

        var dotnet = ProcessRunner.FindOnPath("dotnet") ?? throw new InvalidOperationException("dotnet is not on PATH.");
        return ProcessRunner.RunAsync(dotnet, [dll, .. args], timeout, ct);
    }

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    public static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
