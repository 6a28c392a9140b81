using System.Buffers;
using System.Collections.Immutable;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Routing.Commands;

/// <summary>
/// Finds which arguments of a request are keys, the way Redis 7 does (<c>getKeysUsingKeySpecs</c>, falling back to the
/// legacy first/last/step range), and the hash slot they map to. Data plane: works on the request's argument slices,
/// allocates nothing. Argument indexes count the command name as 0.
/// </summary>
public static class KeyFinder
{
    private const int StackIndexes = 256;

    /// <summary>
    /// Writes the indexes of the key arguments of <paramref name="request"/> to <paramref name="keyArgumentIndexes"/>.
    /// Sharded pub/sub channels (key specs flagged not_key) are left out, as <c>COMMAND GETKEYS</c> leaves them out.
    /// </summary>
    /// <returns>
    /// The number of keys (0 for a keyless command), or -1 when the span is too small or the keys cannot be determined:
    /// a key count that is not a non-negative integer, a key position past the last argument (Redis answers such
    /// requests with an error), or movable keys no complete key spec describes (module commands with their own key
    /// callback). A span of <c>request.Count</c> entries is enough for every built-in Redis 7.0 command.
    /// </returns>
    public static int FindKeys(RespRequest request, CommandSpec spec, Span<int> keyArgumentIndexes) =>
        FindKeys(request, spec, keyArgumentIndexes, includeNotKeys: false);

    /// <summary>As <see cref="FindKeys(RespRequest, CommandSpec, Span{int})"/>; <paramref name="includeNotKeys"/> also
    /// returns sharded channels (SPUBLISH, SSUBSCRIBE), which Redis Cluster routes by their slot like keys.</summary>
    public static int FindKeys(RespRequest request, CommandSpec spec, Span<int> keyArgumentIndexes, bool includeNotKeys)
    {
        var count = Find(request, spec, keyArgumentIndexes, includeNotKeys);
        return count < 0 ? -1 : count;
    }

    /// <summary>
    /// The hash slot of the request's keys, sharded channels included.
    /// </summary>
    /// <param name="slot">The slot of the first key; -1 when keyless or undetermined.</param>
    /// <param name="crossSlot">True when the keys map to more than one slot (Redis would answer CROSSSLOT).</param>
    /// <param name="keyless">True when the command has no keys in this request (any node can serve it).</param>
    /// <returns>False when the keys cannot be determined (see <see cref="FindKeys(RespRequest, CommandSpec, Span{int})"/>).</returns>
    public static bool TryGetSlot(RespRequest request, CommandSpec spec, out int slot, out bool crossSlot, out bool keyless)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(spec);
        slot = -1;
        crossSlot = false;
        keyless = false;

        int[]? rented = null;
        try
        {
            var size = Math.Max(request.Count, 1);
            Span<int> indexes = size <= StackIndexes ? stackalloc int[StackIndexes] : (rented = ArrayPool<int>.Shared.Rent(size));
            int count;
            while ((count = Find(request, spec, indexes, includeNotKeys: true)) == NoRoom)
            {
                // Only overlapping key specs can yield more keys than arguments; grow and try again.
                size = indexes.Length * 2;
                if (rented is not null)
                {
                    ArrayPool<int>.Shared.Return(rented);
                }

                indexes = rented = ArrayPool<int>.Shared.Rent(size);
            }

            if (count < 0)
            {
                return false;
            }

            if (count == 0)
            {
                keyless = true;
                return true;
            }

            slot = HashSlot.Compute(request.Argument(indexes[0]));
            for (var i = 1; i < count; i++)
            {
                if (HashSlot.Compute(request.Argument(indexes[i])) != slot)
                {
                    crossSlot = true;
                    break;
                }
            }

            return true;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    private const int NoRoom = -2;
    private const int Undetermined = -1;

    private static int Find(RespRequest request, CommandSpec spec, Span<int> output, bool includeNotKeys)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Extraction switch
        {
            KeyExtraction.None => 0,
            KeyExtraction.Specs => FromKeySpecs(request, spec.KeySpecs, output, includeNotKeys),
            KeyExtraction.Legacy => FromLegacyRange(request, spec, output),
            KeyExtraction.Sort => Sort(request, output, withStore: true),
            KeyExtraction.SortReadOnly => Sort(request, output, withStore: false),
            KeyExtraction.Migrate => Migrate(request, output),
            _ => Undetermined,
        };
    }

    private static int FromKeySpecs(RespRequest request, ImmutableArray<KeySpec> specs, Span<int> output, bool includeNotKeys)
    {
        var argc = request.Count;
        var count = 0;
        foreach (var keySpec in specs)
        {
            if ((keySpec.Flags & KeySpecFlags.NotKey) != 0 && !includeNotKeys)
            {
                continue;
            }

            int first;
            var begin = keySpec.BeginSearch;
            if (begin.Type == BeginSearchType.Index)
            {
                first = begin.Index;
            }
            else
            {
                first = FindAfterKeyword(request, begin.Keyword!, begin.StartFrom);
                if (first == 0)
                {
                    // An optional keyword that is absent (GEORADIUS without STORE): no keys from this spec.
                    continue;
                }
            }

            int last;
            var find = keySpec.FindKeys;
            if (find.Type == FindKeysType.Range)
            {
                last = find.LastKey >= 0 ? first + find.LastKey
                    : find.Limit == 0 ? argc + find.LastKey
                    : first + (((argc - first) / find.Limit) + find.LastKey);
            }
            else
            {
                var countIndex = first + find.KeyNumIndex;
                if (countIndex >= argc || !request.TryGetArgumentInt64(countIndex, out var keyCount) || keyCount < 0 || keyCount > argc)
                {
                    return Undetermined;
                }

                first += find.FirstKey;
                last = first + (int)keyCount - 1;
            }

            if (last < first)
            {
                // A key count of 0 (EVAL with no keys) or nothing after the keyword.
                continue;
            }

            if (first < 1 || last >= argc || find.KeyStep < 1)
            {
                return Undetermined;
            }

            for (var i = first; i <= last; i += find.KeyStep)
            {
                if (count == output.Length)
                {
                    return NoRoom;
                }

                output[count++] = i;
            }
        }

        return count;
    }

    /// <summary>The index after <paramref name="keyword"/>, scanning as Redis does; 0 when absent.</summary>
    private static int FindAfterKeyword(RespRequest request, string keyword, int startFrom)
    {
        var argc = request.Count;
        var start = startFrom > 0 ? startFrom : argc + startFrom;
        var end = startFrom > 0 ? argc - 1 : 1;
        var forward = start <= end;
        for (var i = start; i != end; i = forward ? i + 1 : i - 1)
        {
            if (i >= argc || i < 1)
            {
                break;
            }

            if (ArgumentIs(request, i, keyword))
            {
                return i + 1;
            }
        }

        return 0;
    }

    private static int FromLegacyRange(RespRequest request, CommandSpec spec, Span<int> output)
    {
        var argc = request.Count;
        var last = spec.LastKey < 0 ? argc + spec.LastKey : spec.LastKey;
        var step = Math.Max(spec.Step, 1);
        var count = 0;
        for (var i = spec.FirstKey; i <= last && i < argc; i += step)
        {
            if (count == output.Length)
            {
                return NoRoom;
            }

            output[count++] = i;
        }

        return count;
    }

    /// <summary>Redis's <c>sortGetKeys</c>: the key, and the last STORE destination, skipping LIMIT/GET/BY operands.</summary>
    private static int Sort(RespRequest request, Span<int> output, bool withStore)
    {
        var argc = request.Count;
        if (argc < 2)
        {
            return Undetermined;
        }

        if (output.Length < 2)
        {
            return NoRoom;
        }

        output[0] = 1;
        if (!withStore)
        {
            return 1;
        }

        var store = 0;
        for (var i = 2; i < argc; i++)
        {
            if (request.ArgumentEquals(i, "LIMIT"u8))
            {
                i += 2;
            }
            else if (request.ArgumentEquals(i, "GET"u8) || request.ArgumentEquals(i, "BY"u8))
            {
                i += 1;
            }
            else if (request.ArgumentEquals(i, "STORE"u8) && i + 1 < argc)
            {
                store = i + 1;
            }
        }

        if (store == 0)
        {
            return 1;
        }

        output[1] = store;
        return 2;
    }

    /// <summary>Redis's <c>migrateGetKeys</c>: argument 3, or with an empty argument 3 the keys after KEYS.</summary>
    private static int Migrate(RespRequest request, Span<int> output)
    {
        var argc = request.Count;
        if (argc < 6)
        {
            return Undetermined;
        }

        int first = 3, count = 1;
        for (var i = 6; i < argc; i++)
        {
            if (request.ArgumentEquals(i, "KEYS"u8))
            {
                if (request.ArgumentLength(3) > 0)
                {
                    // Redis rejects KEYS with a non-empty key argument.
                    return Undetermined;
                }

                first = i + 1;
                count = argc - first;
                break;
            }

            if (request.ArgumentEquals(i, "AUTH"u8))
            {
                i += 1;
            }
            else if (request.ArgumentEquals(i, "AUTH2"u8))
            {
                i += 2;
            }
        }

        if (count > output.Length)
        {
            return NoRoom;
        }

        for (var k = 0; k < count; k++)
        {
            output[k] = first + k;
        }

        return count;
    }

    /// <summary>ASCII case-insensitive comparison with a keyword from a key spec.</summary>
    private static bool ArgumentIs(RespRequest request, int index, string keyword)
    {
        if (request.ArgumentLength(index) != keyword.Length)
        {
            return false;
        }

        var k = 0;
        foreach (var segment in request.Argument(index))
        {
            foreach (var b in segment.Span)
            {
                if (ToUpper(b) != ToUpper(keyword[k++]))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static int ToUpper(int c) => (uint)(c - 'a') <= 'z' - 'a' ? c - 0x20 : c;
}
