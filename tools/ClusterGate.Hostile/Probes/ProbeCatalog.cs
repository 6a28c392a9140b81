namespace ClusterGate.Hostile.Probes;

/// <summary>Every probe, in the order a default run takes them.</summary>
internal static class ProbeCatalog
{
    public static IReadOnlyList<IProbe> All { get; } =
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

    public static IProbe? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}
