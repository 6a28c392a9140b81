namespace ClusterGate.Core.Observability;

/// <summary>Every log event id in one place, grouped by component in blocks of 100.</summary>
internal static class LogEvents
{
    // Topology: 100-199
    public const int TopologyDiscovered = 100;
    public const int TopologyEvent = 101;
    public const int NodeQueryFailed = 102;
    public const int RoleDisagreement = 103;
    public const int RefreshRequested = 104;
    public const int RefreshFailed = 105;
    public const int NoNodeAnswered = 106;

    // Frontends: 200-299
    public const int ListenerStarted = 200;
    public const int ListenerStopped = 201;
    public const int SessionStarted = 202;
    public const int SessionEnded = 203;
    public const int SessionMoved = 204;
    public const int BackendLost = 205;
    public const int ProtocolError = 206;
    public const int HoldExpired = 207;
    public const int ListenerFailed = 208;
    public const int BackendConnected = 209;
    public const int ReplayFailed = 210;
    public const int CommandTableLoaded = 211;
    public const int CommandTableFailed = 212;
    public const int SessionFailed = 213;
    public const int ProtocolErrorsNotLogged = 214;

    // Transport and admission: 400-499
    public const int AcceptFailed = 400;
    public const int AcceptRecovered = 401;
    public const int ClientRefused = 402;
    public const int ClientOutputLimit = 403;
    public const int TransportFault = 404;
    public const int TransportSelected = 405;

    // Router: 300-399
    public const int RouterConnectionLost = 300;
    public const int RouterListening = 301;
    public const int RouterSessionFailed = 302;
    public const int RouterProtocolError = 303;
    public const int RouterConnectionStalled = 304;
    public const int RouterConnectionSuperseded = 305;
}
