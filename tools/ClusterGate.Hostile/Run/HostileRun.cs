using System.Globalization;
using System.Net;
using ClusterGate.Hostile.Probes;
using ClusterGate.Hostile.Resp;
using ClusterGate.Hostile.Target;

namespace ClusterGate.Hostile.Run;

/// <summary>Setup could not be done: the target (or --node) does not answer, or no key lands on the target's master.</summary>
internal sealed class SetupException(string message) : Exception(message);

/// <summary>
/// A whole run: raise this process's descriptor limit, check the target answers, find a hash tag on the port's master,
/// start the good client, run the probes in order, clean the good key up.
/// </summary>
internal sealed class HostileRun(HostileOptions options, Action<string> log)
{
    private const int TagAttempts = 64;

    public async Task<RunResult> RunAsync(CancellationToken ct)
    {
        var result = new RunResult
        {
            Target = options.Target,
            Pid = options.Pid,
            Node = options.Node,
            StartedAt = DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture),
        };

        var limit = ResourceLimits.RaiseOwnDescriptorLimit();
        result.DescriptorLimit = limit.ToString();
        var needed = (ulong)Math.Max(options.IdleCount, options.FdConnections) + 200;
        if (limit.Soft < needed)
        {
            result.Notes.Add($"this tool may open only {limit.Soft} descriptors (hard limit), under the {needed} the probes need: run it after `ulimit -n 65535`");
        }

        var target = Resolve(options.Target);
        var (tag, goodKey) = FindKeys();
        result.Tag = tag;
        result.GoodKey = goodKey;
        if (options.Node is not null && new NodeWatch(options.Node, options.OpTimeout).Role() is var role && role != "master")
        {
            throw new SetupException(role is null ? $"--node {options.Node}: no answer to INFO replication" : $"--node {options.Node} is a {role}, not a master");
        }

        log($"target {options.Target}, hash tag {{{tag}}}, good key {goodKey}, RLIMIT_NOFILE {limit}");
        using (var good = new GoodClient(options.Target, goodKey, options.OpTimeout, options.GoodPause))
        {
            good.Start();
            var runner = new ProbeRunner(options, target, tag, good, log);
            foreach (var name in options.Probes)
            {
                if (ct.IsCancellationRequested)
                {
                    result.Notes.Add("interrupted: the remaining probes did not run");
                    break;
                }

                try
                {
                    result.Probes.Add(await runner.RunAsync(ProbeCatalog.Find(name)!, ct));
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    result.Notes.Add($"interrupted during {name}: it and the remaining probes have no row");
                    break;
                }
            }
        }

        CleanUp(goodKey);
        return result;
    }

    private static IPEndPoint Resolve(string hostPort)
    {
        var (host, port) = Endpoints.Split(hostPort);
        var address = IPAddress.TryParse(host, out var ip) ? ip : Dns.GetHostAddresses(host).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        return new IPEndPoint(address, port);
    }

    /// <summary>
    /// The good client's key and the hash tag hostile keys share with it. With --good-key: that key and its tag. Else
    /// "{TAG}:good", then "{TAG-1}:good", ... until a SET through the target is not redirected (MOVED/ASK): on a shard port
    /// or a node, the first tag whose slot the port's master owns.
    /// </summary>
    private (string Tag, string GoodKey) FindKeys()
    {
        RespConnection connection;
        try
        {
            connection = RespConnection.Connect(options.Target, options.OpTimeout);
        }
        catch (RespConnectionException e)
        {
            throw new SetupException($"target {options.Target} unreachable: {e.Message}");
        }

        using (connection)
        {
            try
            {
                if (connection.Execute("PING") is { Kind: not RespKind.Simple } pong)
                {
                    throw new SetupException($"target {options.Target} answered PING with {pong}");
                }

                if (options.GoodKey is { } key)
                {
                    var reply = connection.Execute("SET", key, "hostile-setup");
                    return reply.IsError ? throw new SetupException($"SET {key} through the target: {reply}") : (HashTag(key), key);
                }

                for (var i = 0; i < TagAttempts; i++)
                {
                    var tag = i == 0 ? options.Tag : $"{options.Tag}-{i.ToString(CultureInfo.InvariantCulture)}";
                    var candidate = "{" + tag + "}:good";
                    var reply = connection.Execute("SET", candidate, "hostile-setup");
                    if (!reply.IsError)
                    {
                        return (tag, candidate);
                    }

                    if (reply.ErrorKind is not ("MOVED" or "ASK"))
                    {
                        throw new SetupException($"SET {candidate} through the target: {reply}");
                    }
                }
            }
            catch (RespConnectionException e)
            {
                throw new SetupException($"target {options.Target}: {e.Message}");
            }
        }

        throw new SetupException($"no tag {{{options.Tag}-N}} (N < {TagAttempts}) lands on this port's master");
    }

    /// <summary>The part of a key Redis hashes: between the first '{' and the next '}', when not empty; else the key.</summary>
    private static string HashTag(string key)
    {
        var open = key.IndexOf('{', StringComparison.Ordinal);
        var close = open < 0 ? -1 : key.IndexOf('}', open + 1);
        return close > open + 1 ? key[(open + 1)..close] : key;
    }

    private void CleanUp(string goodKey)
    {
        try
        {
            using var connection = RespConnection.Connect(options.Target, options.OpTimeout);
            connection.Execute("DEL", goodKey);
        }
        catch (RespConnectionException e)
        {
            log($"DEL {goodKey} failed: {e.Message}");
        }
    }
}
