using ClusterGate.Hostile.Net;

namespace ClusterGate.Hostile.Probes;

/// <summary>Declared lengths far beyond any limit; a parser that trusts them allocates or waits forever.</summary>
internal sealed class HugeLengthsProbe : IProbe
{
    private static readonly (string Label, byte[] Input)[] Cases =
    [
        ("*2147483648", "*2147483648\r\n"u8.ToArray()),
        ("$9999999999", "$9999999999\r\n"u8.ToArray()),
        ("*1 $600000000 abc", "*1\r\n$600000000\r\nabc"u8.ToArray()),
        ("*1048577", "*1048577\r\n"u8.ToArray()),
    ];

    public string Name => "huge-lengths";

    public string Summary => "*2147483648, $9999999999, *1 $600000000 + 3 bytes then silence, *1048577: one connection each";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var replies = new List<string>();
        foreach (var (label, input) in Cases)
        {
            var reply = await Shot.FireAsync(context.Target, input, context.Options.ReplyTimeout, context.Options.ReplyTimeout, ct);
            replies.Add($"{label} → {reply}");
        }

        return new ProbeOutcome { Reply = string.Join('\n', replies) };
    }
}
