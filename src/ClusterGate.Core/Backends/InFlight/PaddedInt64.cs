using System.Runtime.InteropServices;

namespace ClusterGate.Core.Backends.InFlight;

/// <summary>
/// A counter alone on its cache line. The client loop and the pump run on different cores: a field one
/// of them writes per command must not share a line with what the other reads per command.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedInt64
{
    [FieldOffset(64)]
    public long Value;
}
