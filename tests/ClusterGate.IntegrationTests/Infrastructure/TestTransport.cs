using ClusterGate.Core.Frontends;
using ClusterGate.Core.Transport;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// The transport the in-process gateways of the tests run on: the product's own environment variable
/// (<c>CLUSTERGATE__Transport</c>), so <c>tools/test.sh</c> runs the same tests on io_uring and on sockets.
/// </summary>
internal static class TestTransport
{
    public static TransportKind Kind { get; } =
        GatewayTransport.TryParse(Environment.GetEnvironmentVariable("CLUSTERGATE__Transport"), out var kind) ? kind : TransportKind.Auto;
}
