using System.Diagnostics;
using System.Globalization;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// Runs redis-cli / redis-benchmark with optional stdin and a hard bound. The whole run is on the
/// thread pool (Task.Run) so nothing blocks a thread the in-process gateway's inline I/O may need.
/// </summary>
internal static class ToolProcess
{
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
                ?? throw new InvalidOperationException($"{fileName} did not start (apt-get install -y redis-tools).");
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
                    $"'{fileName} {string.Join(' ', startInfo.ArgumentList)}' did not finish within {timeout.TotalSeconds:0} s."));
            }
        }, CancellationToken.None);
}
