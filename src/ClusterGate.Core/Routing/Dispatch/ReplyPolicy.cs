using System.Buffers;
using ClusterGate.Core.Backends;

namespace ClusterGate.Core.Routing.Dispatch;

/// <summary>What to do with a routed command's reply.</summary>
internal enum ReplyAction
{
    /// <summary>Give the reply to the client.</summary>
    Deliver,

    /// <summary><c>MOVED</c>/<c>ASK</c>: send the command to the node named (see <see cref="ReplyDecision.Target"/>).</summary>
    Redirect,

    /// <summary><c>TRYAGAIN</c>: send it again after <see cref="ReplyDecision.Delay"/> (a multi-key command during resharding).</summary>
    RetryLater,

    /// <summary>Proven not to have run and the topology is changing: wait for a new snapshot, within the hold time.</summary>
    Hold,
}

internal readonly record struct ReplyDecision(ReplyAction Action, TimeSpan Delay = default, bool IsAsk = false, NodeEndpoint Target = default);

/// <summary>
/// The redirect, retry and hold policy. A command is sent again only when Redis's reply proves it did not run:
/// <c>MOVED</c> and <c>ASK</c> (up to <see cref="DispatchOptions.MaxRedirects"/>), <c>TRYAGAIN</c> (bounded
/// backoff), and <c>CLUSTERDOWN</c>, <c>MASTERDOWN</c>, <c>LOADING</c>, <c>READONLY</c> (held until the topology
/// changes). Anything else, and any reply past those bounds, goes to the client as it is.
/// </summary>
internal static class ReplyPolicy
{
    public static ReplyDecision Decide(in ReadOnlySequence<byte> reply, RoutedCommand request, DispatchOptions options)
    {
        if (reply.FirstSpan[0] != (byte)'-')
        {
            return new(ReplyAction.Deliver);
        }

        switch (ReplyErrors.Classify(reply))
        {
            case ErrorKind.Moved:
            case ErrorKind.Ask:
                return request.Redirects < options.MaxRedirects && reply.Length >= 4
                    && Redirect.TryParse(reply.Slice(1, reply.Length - 3), out var isAsk, out _, out var target)
                    ? new(ReplyAction.Redirect, IsAsk: isAsk, Target: target)
                    : new(ReplyAction.Deliver);
            case ErrorKind.TryAgain:
                return ++request.TryAgains <= options.MaxTryAgain
                    ? new(ReplyAction.RetryLater, Delay: options.TryAgainDelay * Math.Min(request.TryAgains, 10))
                    : new(ReplyAction.Deliver);
            case ErrorKind.ClusterDown:
            case ErrorKind.MasterDown:
            case ErrorKind.Loading:
            case ErrorKind.ReadOnly:
                return new(ReplyAction.Hold);
            default:
                return new(ReplyAction.Deliver);
        }
    }
}
