using System.Globalization;

namespace ClusterGate.Hostile;

/// <summary>Durations as options take them (15s, 1500ms, 1m) and as the report prints them.</summary>
internal static class Durations
{
    public static TimeSpan Parse(string text, string name)
    {
        var t = text.Trim();
        (string number, double scale) = t switch
        {
            _ when t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (t[..^2], 1.0),
            _ when t.EndsWith('s') || t.EndsWith('S') => (t[..^1], 1000.0),
            _ when t.EndsWith('m') || t.EndsWith('M') => (t[..^1], 60_000.0),
            _ => (t, 1000.0),
        };
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? TimeSpan.FromMilliseconds(value * scale)
            : throw new FormatException($"{name} '{text}': expected a duration such as 10s, 500ms or 1m");
    }

    public static string Format(TimeSpan span) => span.TotalSeconds >= 1
        ? span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + "s"
        : span.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + "ms";

    public static double Ms(long fromTimestamp) => System.Diagnostics.Stopwatch.GetElapsedTime(fromTimestamp).TotalMilliseconds;
}
