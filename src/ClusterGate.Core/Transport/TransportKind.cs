namespace ClusterGate.Core.Transport;

/// <summary>Which transport carries client and backend connections (<c>--transport</c>).</summary>
public enum TransportKind
{
    /// <summary>io_uring when this kernel and process allow it, else Kestrel's sockets.</summary>
    Auto,

    /// <summary>io_uring, or fail at start-up saying why it cannot be used.</summary>
    IoUring,

    /// <summary>Kestrel's socket transport (epoll).</summary>
    Sockets,
}
