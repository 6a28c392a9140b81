using System.Diagnostics;
using System.Globalization;

namespace ClusterGate.FailoverDrill;

/// <summary>How a crashed node is started again: <c>lab.sh restart PORT --base-port BASE</c> when it belongs to a lab.sh lab, else <c>redis-server CONFIG --daemonize yes</c>.</summary>
internal sealed record RestartPlan(string Address, string? LabScript, string? BasePort, int Port, string? ConfigFile)
{
    public string Describe() =>
        LabScript is not null ? $"{LabScript} restart {Port} --base-port {BasePort}"
        : ConfigFile is not null ? $"redis-server {ConfigFile} --daemonize yes"
        : "none (the node reports no config_file)";

    /// <summary>Starts the node's process; whether it rejoined is for the caller to wait for.</summary>
    public bool Run(out string note)
    {
        if (LabScript is null && ConfigFile is null)
        {
            note = "not restarted: the node reports no config_file";
            return false;
        }

        // The old process closes its sockets a moment before it is gone; lab.sh calls it "already running" then.
        for (var attempt = 0; ; attempt++)
        {
            if (!RunOnce(out note, out var output))
            {
                return false;
            }

            if (LabScript is null || !output.Contains("already running", StringComparison.Ordinal) || attempt == 25)
            {
                return true;
            }

            Thread.Sleep(200);
        }
    }

    private bool RunOnce(out string note, out string output)
    {
        output = string.Empty;
        var psi = LabScript is not null
            ? new ProcessStartInfo(LabScript) { ArgumentList = { "restart", Port.ToString(CultureInfo.InvariantCulture), "--base-port", BasePort! } }
            : new ProcessStartInfo("redis-server") { ArgumentList = { ConfigFile!, "--daemonize", "yes" } };
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(40)))
            {
                note = $"{Describe()} did not finish within 40 s";
                return false;
            }

            output = (stdout.Result + stderr.Result).Trim();
            if (p.ExitCode != 0 && output.Contains("to answer PING", StringComparison.Ordinal))
            {
                // Started, but loading a big RDB (it answers LOADING) beyond lab.sh's 30 s: the rejoin wait decides.
                note = $"restarted with {Describe()} (slow to load: {output})";
                return true;
            }

            if (p.ExitCode != 0)
            {
                note = $"{Describe()} exited {p.ExitCode}: {output}";
                return false;
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            note = $"{Describe()}: {e.Message}";
            return false;
        }

        note = $"restarted with {Describe()}";
        return true;
    }
}
