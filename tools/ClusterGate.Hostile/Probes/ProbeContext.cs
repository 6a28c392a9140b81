using System.Net;
using ClusterGate.Hostile.Resp;
using ClusterGate.Hostile.Target;

namespace ClusterGate.Hostile.Probes;

/// <summary>What every probe gets: the options, the target, the hash tag on the good client's master, /proc readings.</summary>
internal sealed class ProbeContext
{
    public required HostileOptions Options { get; init; }
    public required IPEndPoint Target { get; init; }

    /// <summary>Hash tag whose slot is on the same master as the good client's key.</summary>
    public required string Tag { get; init; }

    public required ProcessWatch Process { get; init; }
    public required PeakSampler Sampler { get; init; }
    public required Action<string> Log { get; init; }

    /// <summary>"{hostile}:name": a key on the good client's master.</summary>
    public string Key(string name) => "{" + Tag + "}:" + name;

    /// <summary>A well-behaved connection for a probe's own setup and checks (SET the big value, LPUSH, LLEN, DEL).</summary>
    public RespConnection Control() => RespConnection.Connect(Options.Target, Options.OpTimeout);

    /// <summary>True when the process under test is known to be gone (a probe stops opening connections then).</summary>
    public bool ProcessGone => Process.Exists() == false;
}
