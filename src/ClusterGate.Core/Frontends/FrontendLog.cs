using ClusterGate.Core.Observability;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends;

/// <summary>Log events both frontends share.</summary>
internal static partial class FrontendLog
{
    /// <summary>
    /// The rate limiter of a frontend's client protocol errors: at most <paramref name="limit"/> logged per
    /// <paramref name="interval"/>, and one line at the end of a window that left some out.
    /// </summary>
    public static LogRateLimiter ProtocolErrorLimiter(int limit, TimeSpan interval, TimeProvider time, ILogger logger, string frontend) =>
        new(limit, interval, time, count => ProtocolErrorsNotLogged(logger, count, frontend, interval, limit));

    [LoggerMessage(
        EventId = LogEvents.ProtocolErrorsNotLogged,
        Level = LogLevel.Information,
        Message = "{Count} more client protocol errors on the {Frontend} were not logged in the last {Interval} (at most {Limit} are logged per interval)")]
    private static partial void ProtocolErrorsNotLogged(ILogger logger, int count, string frontend, TimeSpan interval, int limit);
}
