using System.Diagnostics;
using System.Globalization;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// Runs a short-lived tool (redis-cli, redis-benchmark, the CLI) with optional stdin and a hard time
/// bound. The whole run is on the thread pool (Task.Run) so nothing blocks a thread the in-process
/// gateway's inline I/O may need.
/// </summary>
internal static class ProcessRunner
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string fileName, IEnumerable<string> args, TimeSpan timeout, CancellationToken ct)
    {
        var (exitCode, stdout, stderr, _) = await RunAsync(fileName, args, null, timeout, ct);
        return (exitCode, stdout, stderr);
    }

    public static Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)> RunAsync(
        string fileName, IEnumerable<string> args, string? stdin, TimeSpan timeout, CancellationToken ct) =>
        Task.Run(async () =>
        {
            var startInfo = new ProcessStartInfo(fileName)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
            };
            foreach (var arg in args)
            {
                startInfo.ArgumentList.Add(arg);
            }

            var sw = Stopwatch.StartNew();
            using var process = Process.Start(startInfo)
                ?? throw new InvalidOperationException($"Could not start {fileName}.");
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            try
            {
                var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
                var stderr = process.StandardError.ReadToEndAsync(cts.Token);
                if (stdin is not null)
                {
                    await process.StandardInput.WriteAsync(stdin.AsMemory(), cts.Token);
                }

                process.StandardInput.Close();
                await process.WaitForExitAsync(cts.Token);
                return (process.ExitCode, await stdout, await stderr, sw.Elapsed);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }

                ct.ThrowIfCancellationRequested();
                throw new TimeoutException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{fileName} {string.Join(' ', startInfo.ArgumentList)}' did not finish within {timeout.TotalSeconds:0.#} s."));
            }
        }, CancellationToken.None);

    /// <summary>Full path of an executable on PATH, or null.</summary>
    public static string? FindOnPath(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
