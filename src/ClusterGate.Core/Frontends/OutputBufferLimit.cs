using System.Globalization;

namespace ClusterGate.Core.Frontends;

/// <summary>
/// Redis's <c>client-output-buffer-limit</c>: a client whose replies wait in the gateway beyond
/// <see cref="Hard"/> bytes, or beyond <see cref="Soft"/> bytes for longer than <see cref="SoftDuration"/>, is
/// disconnected. 0 turns a bound off. Written as Redis writes it: <c>"256mb 64mb 10"</c>.
/// </summary>
public sealed record OutputBufferLimit(long Hard, long Soft, TimeSpan SoftDuration)
{
    /// <summary>
    /// For router clients. Redis has no bound for normal clients because each client's replies stay in its own
    /// buffer; the router's clients share backend connections, so the gateway bounds what it holds for one.
    /// </summary>
    public static OutputBufferLimit RouterDefault { get; } = new(256L << 20, 64L << 20, TimeSpan.FromSeconds(10));

    /// <summary>For subscribers: Redis's own default for the pubsub class.</summary>
    public static OutputBufferLimit PubSubDefault { get; } = new(32L << 20, 8L << 20, TimeSpan.FromSeconds(60));

    /// <summary>Parses <c>HARD SOFT SECONDS</c> with Redis's units (<c>b</c>, <c>k</c>, <c>kb</c>, <c>m</c>, <c>mb</c>, <c>g</c>, <c>gb</c>).</summary>
    public static bool TryParse(string? text, out OutputBufferLimit limit)
    {
        limit = RouterDefault;
        var parts = (text ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3 || !TryParseBytes(parts[0], out var hard) || !TryParseBytes(parts[1], out var soft)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return false;
        }

        limit = new OutputBufferLimit(hard, soft, TimeSpan.FromSeconds(seconds));
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Hard} {Soft} {(long)SoftDuration.TotalSeconds}");

    /// <summary>Redis's <c>memtoull</c>: a number with an optional unit, case-insensitive; k = 1000, kb = 1024.</summary>
    public static bool TryParseBytes(string text, out long bytes)
    {
        bytes = 0;
        var lower = text.ToLowerInvariant();
        (string Suffix, long Factor)[] units = [("gb", 1L << 30), ("mb", 1L << 20), ("kb", 1L << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)];
        var factor = 1L;
        foreach (var (suffix, value) in units)
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal))
            {
                lower = lower[..^suffix.Length];
                factor = value;
                break;
            }
        }

        if (!long.TryParse(lower, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > long.MaxValue / factor)
        {
            return false;
        }

        bytes = number * factor;
        return true;
    }
}
