namespace ClusterGate.Core.Frontends;

/// <summary>One client connection's session, as the listener that runs it sees it.</summary>
internal interface IClientSession
{
    long Id { get; }

    /// <summary>Serves the client until it leaves, QUITs, or the session is stopped.</summary>
    Task RunAsync();

    /// <summary>Stop reading new commands; in-flight replies still drain.</summary>
    void BeginShutdown();

    /// <summary>Drop everything now (the drain time is over).</summary>
    void Abort();
}
