using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Frontends.Rewrite;

/// <summary>
/// Rewrites the replies of a shard port that name node addresses (<c>-MOVED</c>, <c>-ASK</c>, <c>CLUSTER NODES</c>,
/// <c>CLUSTER SLOTS</c>, <c>CLUSTER SHARDS</c>) so that every address a client sees is a gateway endpoint.
/// </summary>
/// <remarks>
/// <para>
/// Each shard group is one gateway endpoint that always leads to its master, so replicas cannot be reached through
/// the gateway: the <see cref="GatewayAddressMap"/> returns null for them and they are removed, leaving each group
/// as one master.
/// </para>
/// <para>
/// Control plane: these replies are rare, so the rewriters build new <see cref="RespValue"/>s and use strings.
/// They never throw because of what the server sent. A topology reply whose shape is not the one Redis documents
/// is returned unchanged (the same instance) and the caller forwards it as it came; only <c>CLUSTER NODES</c> text,
/// which is line based, drops the single lines it cannot read. Exceptions from the map itself are not caught.
/// </para>
/// </remarks>
public static partial class ReplyRewriter
{
    /// <summary>Hash slots are 0..16383.</summary>
    private const int MaxSlot = 16383;

    private static RespValue WithAttributeOf(this RespValue rewritten, RespValue original) =>
        original.Attribute is null ? rewritten : rewritten.WithAttribute(original.Attribute);

    private static bool IsText(RespValue value) =>
        !value.IsNull && value.Type is RespType.BulkString or RespType.SimpleString;

    private static bool IsKey(RespValue key, ReadOnlySpan<byte> name) =>
        IsText(key) && key.Bytes.Span.SequenceEqual(name);

    private static bool IsPort(RespValue value) =>
        value.Type == RespType.Integer && value.Integer is >= 0 and <= ushort.MaxValue;

    /// <summary>
    /// The alternating keys and values of a RESP3 map or of a RESP2 array that flattens one (Redis sends the same
    /// pairs as <c>%N</c> after <c>HELLO 3</c> and as <c>*2N</c> before).
    /// </summary>
    private static bool TryGetPairs(RespValue value, out IReadOnlyList<RespValue> pairs)
    {
        pairs = value.Items;
        return !value.IsNull && (value.Type == RespType.Map || (value.Type == RespType.Array && pairs.Count % 2 == 0));
    }

    /// <summary>A map or flat array of the same kind as <paramref name="original"/>, from alternating keys and values.</summary>
    private static RespValue PairsLike(RespValue original, List<RespValue> pairs) =>
        original.Type == RespType.Map ? RespValue.Map([.. pairs]) : RespValue.Array([.. pairs]);
}
