using System.Globalization;

namespace ClusterGate.Hostile.Net;

/// <summary>One kind of outcome over many connections: how many, and the full text of the first one.</summary>
internal sealed record TallyEntry(string Kind, int Count, string Sample);

/// <summary>Counts outcomes of many connections by kind (thread-safe), keeping one sample per kind.</summary>
internal sealed class ReplyTally
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (int Count, string Sample)> _kinds = new(StringComparer.Ordinal);

    public void Add(string kind, string sample)
    {
        lock (_gate)
        {
            _kinds[kind] = _kinds.TryGetValue(kind, out var e) ? (e.Count + 1, e.Sample) : (1, sample);
        }
    }

    public int Count(Func<string, bool> kind)
    {
        lock (_gate)
        {
            return _kinds.Where(k => kind(k.Key)).Sum(k => k.Value.Count);
        }
    }

    public IReadOnlyList<TallyEntry> Entries()
    {
        lock (_gate)
        {
            return [.. _kinds.Select(k => new TallyEntry(k.Key, k.Value.Count, k.Value.Sample)).OrderByDescending(e => e.Count).ThenBy(e => e.Kind, StringComparer.Ordinal)];
        }
    }

    /// <summary>"19,800× -ERR unknown command '; 200× closed", the most frequent kinds first (those <paramref name="include"/> takes).</summary>
    public string Summary(int top = 3, Func<string, bool>? include = null)
    {
        var entries = Entries().Where(e => include?.Invoke(e.Kind) ?? true).ToList();
        var parts = entries.Take(top).Select(e => $"{e.Count.ToString("N0", CultureInfo.InvariantCulture)}× {e.Kind}").ToList();
        if (entries.Count > top)
        {
            parts.Add($"{entries.Skip(top).Sum(e => e.Count).ToString("N0", CultureInfo.InvariantCulture)}× other ({entries.Count - top} kinds)");
        }

        return parts.Count == 0 ? "-" : string.Join("; ", parts);
    }

    /// <summary>One line per kind with its first full sample, for the details under the table.</summary>
    public IEnumerable<string> Samples(int top = 5) =>
        Entries().Take(top).Where(e => e.Sample != e.Kind).Select(e => $"sample of \"{e.Kind}\": {e.Sample}");
}
