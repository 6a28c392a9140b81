using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;

namespace ClusterGate.Core.Routing.Merge;

/// <summary>
/// Merges the replies of a command sent to several masters into the one reply a standalone server would give, by
/// Redis's <c>response_policy</c> tips. A part's error wins: the first one is returned.
/// </summary>
internal static partial class ReplyMerge
{
    /// <summary>The merge for a fanned-out command's response policy; null when the router has none for it.</summary>
    public static Func<byte[][], byte[]>? For(ResponsePolicy policy) => policy switch
    {
        ResponsePolicy.Default => ConcatArrays,
        ResponsePolicy.AllSucceeded => AllSucceeded,
        ResponsePolicy.OneSucceeded => OneSucceeded,
        ResponsePolicy.AggregateSum => SumIntegers,
        ResponsePolicy.AggregateMin => parts => AggregateIntegers(parts, Math.Min),
        ResponsePolicy.AggregateMax => parts => AggregateIntegers(parts, Math.Max),
        ResponsePolicy.AggregateLogicalAnd => parts => Logical(parts, and: true),
        ResponsePolicy.AggregateLogicalOr => parts => Logical(parts, and: false),
        _ => null,
    };

    /// <summary>Integers summed (DBSIZE, DEL parts).</summary>
    public static byte[] SumIntegers(byte[][] parts) => AggregateIntegers(parts, static (a, b) => a + b);

    /// <summary>Arrays concatenated in part order (KEYS, PUBSUB CHANNELS).</summary>
    public static byte[] ConcatArrays(byte[][] parts)
    {
        var values = Values(parts, out var error);
        return error ?? Write(RespValue.Array([.. values.SelectMany(v => v.Items)]));
    }

    /// <summary>The first part's reply when none failed (FLUSHALL, SCRIPT LOAD, CONFIG SET).</summary>
    public static byte[] AllSucceeded(byte[][] parts)
    {
        _ = Values(parts, out var error);
        return error ?? parts[0];
    }

    /// <summary>A non-null reply picked at random (RANDOMKEY: a key from a random non-empty master), else null.</summary>
    public static byte[] AnyNonNull(byte[][] parts)
    {
        var values = Values(parts, out var error);
        var candidates = Enumerable.Range(0, parts.Length).Where(i => values[i].Type != RespType.Error && !values[i].IsNull).ToList();
        return candidates.Count > 0 ? parts[candidates[Random.Shared.Next(candidates.Count)]] : error ?? parts[0];
    }

    /// <summary>The distinct elements of every part's array (PUBSUB CHANNELS over every node).</summary>
    public static byte[] UnionArrays(byte[][] parts)
    {
        var values = Values(parts, out var error);
        if (error is not null)
        {
            return error;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var union = new List<RespValue>();
        foreach (var item in values.SelectMany(v => v.Items))
        {
            if (seen.Add(Convert.ToBase64String(item.Bytes.Span)))
            {
                union.Add(item);
            }
        }

        return Write(RespValue.Array([.. union]));
    }

    /// <summary>[name, count, name, count...] arrays with the counts summed by position (PUBSUB NUMSUB over every node).</summary>
    public static byte[] SumCountsByPosition(byte[][] parts)
    {
        var values = Values(parts, out var error);
        if (error is not null)
        {
            return error;
        }

        var first = values[0].Items;
        var merged = new RespValue[first.Count];
        for (var i = 0; i < first.Count; i++)
        {
            merged[i] = i % 2 == 0 ? first[i] : RespValue.Int(values.Sum(v => v.Items.Count > i ? v.Items[i].Integer : 0));
        }

        return Write(RespValue.Array(merged));
    }

    /// <summary>The first reply that is not an error, else the first error.</summary>
    public static byte[] OneSucceeded(byte[][] parts)
    {
        var values = Values(parts, out var error);
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i].Type != RespType.Error)
            {
                return parts[i];
            }
        }

        return error ?? parts[0];
    }

    /// <summary>Integers, or arrays of integers element by element, combined with <paramref name="combine"/>.</summary>
    public static byte[] AggregateIntegers(byte[][] parts, Func<long, long, long> combine)
    {
        var values = Values(parts, out var error);
        if (error is not null)
        {
            return error;
        }

        if (values[0].Type != RespType.Array)
        {
            var total = values[0].Integer;
            for (var i = 1; i < values.Length; i++)
            {
                total = combine(total, values[i].Integer);
            }

            return Write(RespValue.Int(total));
        }

        var count = values[0].Items.Count;
        var result = new RespValue[count];
        for (var j = 0; j < count; j++)
        {
            var total = values[0].Items[j].Integer;
            for (var i = 1; i < values.Length; i++)
            {
                total = combine(total, values[i].Items.Count > j ? values[i].Items[j].Integer : 0);
            }

            result[j] = RespValue.Int(total);
        }

        return Write(RespValue.Array(result));
    }

    /// <summary>0/1 integers (or arrays of them) combined with AND or OR (SCRIPT EXISTS: true only where every master has it).</summary>
    public static byte[] Logical(byte[][] parts, bool and) =>
        AggregateIntegers(parts, and ? static (a, b) => a != 0 && b != 0 ? 1 : 0 : static (a, b) => a != 0 || b != 0 ? 1 : 0);

    [GeneratedRegex(@"^db(\d+):keys=(\d+),expires=(\d+),avg_ttl=(\d+)", RegexOptions.Multiline)]
    private static partial Regex KeyspaceLine();

    /// <summary>The first master's INFO, as a standalone server would say it, with every master's keyspace summed.</summary>
    public static byte[] Info(byte[][] parts)
    {
        var values = Values(parts, out var error);
        if (error is not null)
        {
            return error;
        }

        var text = SumSections([.. values.Select(v => v.AsString())])
            .Replace("redis_mode:cluster", "redis_mode:standalone", StringComparison.Ordinal)
            .Replace("cluster_enabled:1", "cluster_enabled:0", StringComparison.Ordinal);
        var totals = new SortedDictionary<int, (long Keys, long Expires, long TtlWeighted)>();
        foreach (var value in values)
        {
            foreach (Match m in KeyspaceLine().Matches(value.AsString()))
            {
                var db = int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
                var keys = long.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture);
                var expires = long.Parse(m.Groups[3].ValueSpan, CultureInfo.InvariantCulture);
                var ttl = long.Parse(m.Groups[4].ValueSpan, CultureInfo.InvariantCulture);
                var t = totals.GetValueOrDefault(db);
                totals[db] = (t.Keys + keys, t.Expires + expires, t.TtlWeighted + (ttl * expires));
            }
        }

        var keyspace = new StringBuilder();
        foreach (var (db, t) in totals)
        {
            keyspace.Append(CultureInfo.InvariantCulture, $"db{db}:keys={t.Keys},expires={t.Expires},avg_ttl={(t.Expires == 0 ? 0 : t.TtlWeighted / t.Expires)}\r\n");
        }

        text = KeyspaceLine().Replace(text, string.Empty);
        text = Regex.Replace(text, @"(\r?\n)+(?=\r?\n|$)", "\r\n");
        var marker = text.IndexOf("# Keyspace", StringComparison.Ordinal);
        if (marker >= 0)
        {
            var end = text.IndexOf('\n', marker);
            text = text[..(end + 1)] + keyspace + text[(end + 1)..];
        }

        var writer = new ArrayBufferWriter<byte>(text.Length + 16);
        RespWriter.WriteBulkString(writer, new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text)));
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>The INFO sections Redis itself would count over the whole data set: summed over the masters.</summary>
    private static readonly HashSet<string> SummedSections = new(StringComparer.Ordinal) { "Stats", "Commandstats", "Errorstats" };

    /// <summary>
    /// The first master's INFO with the summed sections' fields added up over every master: integers and decimals
    /// summed, <c>name=value,...</c> fields (cmdstat, errorstat) summed field by field, <c>usec_per_call</c> worked out
    /// again; a field only some masters have (a command only one of them ran) is added.
    /// </summary>
    private static string SumSections(string[] infos)
    {
        var totals = new Dictionary<(string Section, string Key), string>();
        var order = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var info in infos)
        {
            var section = string.Empty;
            foreach (var raw in info.Split('\n'))
            {
                var line = raw.TrimEnd('\r');
                if (line.StartsWith("# ", StringComparison.Ordinal))
                {
                    section = line[2..];
                    continue;
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (!SummedSections.Contains(section) || colon <= 0)
                {
                    continue;
                }

                var key = line[..colon];
                var value = line[(colon + 1)..];
                if (!order.TryGetValue(section, out var keys))
                {
                    order[section] = keys = [];
                }

                if (totals.TryGetValue((section, key), out var sum))
                {
                    totals[(section, key)] = AddValues(sum, value);
                }
                else
                {
                    keys.Add(key);
                    totals[(section, key)] = value;
                }
            }
        }

        var output = new StringBuilder();
        var current = string.Empty;
        foreach (var raw in infos[0].Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("# ", StringComparison.Ordinal) || line.Length == 0)
            {
                AppendMissing(output, current, order, infos[0]);
                if (line.StartsWith("# ", StringComparison.Ordinal))
                {
                    current = line[2..];
                }

                output.Append(line).Append("\r\n");
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            output.Append(SummedSections.Contains(current) && colon > 0 && totals.TryGetValue((current, line[..colon]), out var total)
                ? $"{line[..colon]}:{total}"
                : line).Append("\r\n");
        }

        AppendMissing(output, current, order, infos[0]);
        return output.ToString().TrimEnd('\r', '\n') + "\r\n";

        void AppendMissing(StringBuilder output, string section, Dictionary<string, List<string>> order, string first)
        {
            if (!SummedSections.Contains(section) || !order.TryGetValue(section, out var keys))
            {
                return;
            }

            foreach (var key in keys.Where(k => !first.Contains("\n" + k + ":", StringComparison.Ordinal)))
            {
                output.Append(CultureInfo.InvariantCulture, $"{key}:{totals[(section, key)]}\r\n");
            }

            order.Remove(section);
        }
    }

    /// <summary>Adds two INFO values: numbers, or <c>name=number,...</c> lists field by field.</summary>
    private static string AddValues(string a, string b)
    {
        if (long.TryParse(a, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var la)
            && long.TryParse(b, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var lb))
        {
            return (la + lb).ToString(CultureInfo.InvariantCulture);
        }

        if (double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var da)
            && double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var db))
        {
            return (da + db).ToString("0.00", CultureInfo.InvariantCulture);
        }

        if (!a.Contains('=', StringComparison.Ordinal))
        {
            return a;
        }

        var fields = a.Split(',').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToList();
        var other = b.Split(',').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
        var summed = fields.Select(f => (Name: f[0], Value: other.TryGetValue(f[0], out var v) && f[0] != "usec_per_call" ? AddValues(f[1], v) : f[1])).ToList();
        var calls = summed.FirstOrDefault(f => f.Name == "calls").Value;
        var usec = summed.FirstOrDefault(f => f.Name == "usec").Value;
        if (calls is not null && usec is not null && long.TryParse(calls, CultureInfo.InvariantCulture, out var c) && c > 0
            && long.TryParse(usec, CultureInfo.InvariantCulture, out var u))
        {
            summed = [.. summed.Select(f => f.Name == "usec_per_call" ? (f.Name, ((double)u / c).ToString("0.00", CultureInfo.InvariantCulture)) : f)];
        }

        return string.Join(',', summed.Select(f => $"{f.Name}={f.Value}"));
    }

    /// <summary>Every part read as a value; <paramref name="error"/> is the first part that is an error reply.</summary>
    public static RespValue[] Values(byte[][] parts, out byte[]? error)
    {
        error = null;
        var values = new RespValue[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(parts[i]));
            if (RespValue.TryRead(ref reader, RespLimits.Default, out var value, out var readError) != RespScanStatus.Complete || value is null)
            {
                throw new InvalidDataException(readError ?? "incomplete reply");
            }

            if (value.Type == RespType.Error && error is null)
            {
                error = parts[i];
            }

            values[i] = value;
        }

        return values;
    }

    public static byte[] Write(RespValue value)
    {
        var writer = new ArrayBufferWriter<byte>();
        RespWriter.WriteValue(writer, value);
        return writer.WrittenSpan.ToArray();
    }
}
