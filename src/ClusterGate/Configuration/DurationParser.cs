using System.Globalization;

namespace ClusterGate.Configuration;

/// <summary>Durations as people write them: <c>500ms</c>, <c>20s</c>, <c>1.5m</c>, <c>1h</c>, or <c>00:00:20</c>.</summary>
public static class DurationParser
{
    public const string Expected = "a duration such as 500ms, 20s, 2m or 00:00:20";

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value);
        }

        // A bare number is ambiguous (TimeSpan.Parse reads "20" as 20 days): a unit is required.
        (string Suffix, double Milliseconds)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (suffix, milliseconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text.AsSpan(0, text.Length - suffix.Length), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var number)
                && double.IsFinite(number) && Math.Abs(number * milliseconds) < TimeSpan.MaxValue.TotalMilliseconds)
            {
                value = TimeSpan.FromMilliseconds(number * milliseconds);
                return true;
            }
        }

        return false;
    }
}
