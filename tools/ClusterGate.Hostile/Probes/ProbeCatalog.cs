namespace ClusterGate.Hostile.Probes;

/// <summary>Every probe: those of a default run in its order, then those that run only when named (--probe).</summary>
internal static class ProbeCatalog
{
    /// <summary>What a run without --probe takes, in this order.</summary>
    public static IReadOnlyList<IProbe> Default { get; } =
    [
        new RandomBytesProbe(),
        new HugeLengthsProbe(),
        new DeepNestingProbe(),
        new LongInlineProbe(),
        new HalfFramesProbe(),
        new NeverReadsProbe(),
        new PingsProbe(),
        new NulInlineProbe(),
        new BlpopDisconnectProbe(),
        new IdleClientsProbe(),
        new FdExhaustionProbe(),
    ];

    /// <summary>
    /// Default, then the probes that run only with --probe: burst takes a minute and a half, and its idle reading
    /// means most on a fresh target.
    /// </summary>
    public static IReadOnlyList<IProbe> All { get; } = [.. Default, new BurstProbe()];

    public static IProbe? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}
