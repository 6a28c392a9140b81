using System.Text;
using ClusterGate.Hostile.Net;

namespace ClusterGate.Hostile.Probes;

/// <summary>An array nested 100,000 deep: a recursive parser overflows its stack, an unbounded one keeps a huge state.</summary>
internal sealed class DeepNestingProbe : IProbe
{
    private const int Depth = 100_000;

    public string Name => "deep-nesting";

    public string Summary => "\"*1\\r\\n\" × 100,000 (an array nested 100,000 deep) on one connection";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var input = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n", Depth)));
        var reply = await Shot.FireAsync(context.Target, input, context.Options.ReplyTimeout, context.Options.ReplyTimeout, ct);
        return new ProbeOutcome { Reply = reply };
    }
}
