using System.Globalization;
using ClusterGate.Core.Backends;

namespace ClusterGate.Core.Topology;

/// <summary>Parses <c>host:port</c>, <c>[v6]:port</c> as written on command lines and in configuration.</summary>
public static class EndpointParser
{
    public static bool TryParse(string? text, out NodeEndpoint endpoint)
    {
        endpoint = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        string host;
        string port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                return false;
            }

            host = text[1..close];
            port = text[(close + 2)..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0)
            {
                return false;
            }

            host = text[..colon];
            port = text[(colon + 1)..];
        }

        if (host.Length == 0 || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            return false;
        }

        endpoint = new NodeEndpoint(host, number);
        return true;
    }
}
