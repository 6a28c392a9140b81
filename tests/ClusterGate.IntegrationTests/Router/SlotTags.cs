using System.Globalization;
using ClusterGate.IntegrationTests.ShardPorts;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>One hash tag per slot (found by search with an independent CRC16), so a test can put a key in any slot.</summary>
internal static class SlotTags
{
    private static readonly Lazy<string[]> Table = new(Build);

    /// <summary>A tag (without braces) whose keys hash to <paramref name="slot"/>.</summary>
    public static string Of(int slot) => Table.Value[slot];

    private static string[] Build()
    {
        var tags = new string[16384];
        var missing = tags.Length;
        for (var i = 0; missing > 0; i++)
        {
            var tag = "s" + i.ToString(CultureInfo.InvariantCulture);
            var slot = HashSlots.Of(tag);
            if (tags[slot] is null)
            {
                tags[slot] = tag;
                missing--;
            }
        }

        return tags;
    }
}
