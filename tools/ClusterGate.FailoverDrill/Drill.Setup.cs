using System.Text.RegularExpressions;

namespace ClusterGate.FailoverDrill;

/// <summary>Setup could not complete: nothing was measured.</summary>
internal sealed class SetupException : Exception
{
    public SetupException()
    {
    }

    public SetupException(string message)
        : base(message)
    {
    }

    public SetupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Setup: which master the target leads to, the slot function check, how a crashed node is restarted.</summary>
internal sealed partial class Drill
{
    private static RespConnection ConnectControl(string address)
    {
        try
        {
            return RespConnection.Connect(address, ControlTimeout);
        }
        catch (RespConnectionException e)
        {
            throw new SetupException(e.Message, e);
        }
    }

    private void CheckSlotFunction(RespConnection lab)
    {
        const string probe = "drill:{slot-check}:x";
        var reply = lab.Execute("CLUSTER", "KEYSLOT", probe);
        if (reply.Kind != RespKind.Integer || reply.Integer != KeySlot.Of(probe))
        {
            throw new SetupException($"CLUSTER KEYSLOT {probe} on {_o.LabNode} answered {reply}, local CRC16 says {KeySlot.Of(probe)}");
        }
    }

    /// <summary>
    /// Writes one probe key per master (a hash tag in that master's slots) through the target; the master
    /// whose probe is acknowledged and then found on that master directly is the one behind the target.
    /// </summary>
    private ClusterNode FindTargetMaster(List<ClusterNode> masters, DrillResult result)
    {
        var found = new List<ClusterNode>();
        var replies = new List<string>();
        foreach (var m in masters)
        {
            var (reached, reply) = ProbeLeadsTo(m.Address, KeySlot.TagFor(m, "probe"));
            replies.Add($"{m.Address}: {reply}");
            if (reached)
            {
                found.Add(m);
            }
        }

        if (found.Count == 0)
        {
            throw new SetupException($"no probe write through {_o.Target} reached a master: {string.Join("; ", replies)}");
        }

        if (found.Count > 1)
        {
            result.Notes.Add($"the target accepted keys of {found.Count} masters (a router?); crashing the first one, {found[0].Address} (choose with --master)");
        }

        return found[0];
    }

    /// <summary>Writes a probe key with <paramref name="tag"/> through the target and looks for it on <paramref name="master"/> directly.</summary>
    private (bool Reached, RespValue Reply) ProbeLeadsTo(string master, string tag)
    {
        var key = $"drill:probe:{{{tag}}}:{_runId}";
        var value = "probe-" + _runId;
        RespValue reply;
        using (var target = ConnectTarget())
        {
            reply = target.Execute("SET", key, value, "PX", "600000");
        }

        if (reply.Kind != RespKind.Simple)
        {
            return (false, reply);
        }

        using var direct = ConnectControl(master);
        var reached = direct.Execute("GET", key).Text == value;
        direct.Execute("DEL", key);
        return (reached, reply);
    }

    private RespConnection ConnectTarget()
    {
        try
        {
            return RespConnection.Connect(_o.Target, _o.OpTimeout);
        }
        catch (RespConnectionException e)
        {
            throw new SetupException($"target: {e.Message}", e);
        }
    }

    private RestartPlan PlanRestart(ClusterNode master)
    {
        string info;
        using (var c = ConnectControl(master.Address))
        {
            info = c.Execute("INFO", "server").Text ?? string.Empty;
        }

        var configFile = ConfigFileLine().Match(info) is { Success: true } m ? m.Groups[1].Value.Trim() : string.Empty;
        var port = Endpoints.Split(master.Address).Port;
        if (configFile.Length == 0)
        {
            return new RestartPlan(master.Address, null, null, port, null);
        }

        // A lab started by cluster-lab/lab.sh keeps node configs in <repo>/cluster-lab/.lab-<base>/<port>/redis.conf.
        var labMatch = LabConfigPath().Match(configFile);
        var script = _o.LabScript;
        if (labMatch.Success)
        {
            script ??= Path.Combine(labMatch.Groups["root"].Value, "lab.sh");
            if (File.Exists(script))
            {
                return new RestartPlan(master.Address, script, labMatch.Groups["base"].Value, port, configFile);
            }
        }

        return new RestartPlan(master.Address, null, null, port, configFile);
    }

    [GeneratedRegex(@"^config_file:(.*)$", RegexOptions.Multiline)]
    private static partial Regex ConfigFileLine();

    [GeneratedRegex(@"^(?<root>.*/cluster-lab)/\.lab-(?<base>\d+)/\d+/redis\.conf$")]
    private static partial Regex LabConfigPath();
}
