using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Reliability;

/// <summary>
/// 10,000 idle clients on the router port of the real process (on the transport <c>auto</c> picks, io_uring here):
/// all are taken, a new client is served beside them, and when they leave the descriptors go back to what the
/// process held before. Descriptors and resident memory are written to the test output.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class IdleClientsTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    // The 10,001st would be refused (maxclients 10,000): one fresh client is served beside them.
    private const int Clients = 9_999;
    // What the process holds besides clients moves by a few (a probe closing, the descriptor budget's spares).
    private const int Slack = 16;
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task TenThousandIdleClients_AllTakenOthersServed_DescriptorsBackWhenTheyLeave()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var gateway = await GatewayProcess.StartAsync(fixture.Cluster, descriptorLimit: 12_000, ["--log-level", "Warning"], cts.Token);
        var descriptorsBefore = gateway.OpenDescriptors();
        var rssBefore = ResidentMegabytes(gateway.Pid);

        var idle = new List<Socket>(Clients);
        try
        {
            for (var batch = 0; batch < Clients; batch += 500)
            {
                var sockets = Enumerable.Range(0, Math.Min(500, Clients - batch)).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToList();
                idle.AddRange(sockets);
                await Task.WhenAll(sockets.Select(s => s.ConnectAsync(IPAddress.Loopback, gateway.RouterPort, cts.Token).AsTask()));
            }

            var held = 0;
            await RedisCluster.WaitUntilAsync(
                _ => Task.FromResult((held = gateway.OpenDescriptors()) >= descriptorsBefore + Clients - Slack),
                TimeSpan.FromSeconds(60),
                $"the gateway to hold {Clients} more descriptors than {descriptorsBefore}",
                () => $"it holds {held}; connected here: {idle.Count(s => s.Connected)}; its output: {gateway.Output}",
                cts.Token);
            await using (var fresh = await RespClient.ConnectAsync(gateway.RouterPort, cts.Token))
            {
                Assert.Equal("+PONG", (await fresh.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
            }

            var descriptorsHeld = gateway.OpenDescriptors();
            var rssHeld = ResidentMegabytes(gateway.Pid);
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{Clients} idle clients: descriptors {descriptorsBefore} -> {descriptorsHeld}; RSS {rssBefore} MB -> {rssHeld} MB ({(rssHeld - rssBefore) * 1024.0 / Clients:0.0} KB per client)"));
            Assert.True(rssHeld < 1024, $"RSS {rssHeld} MB with {Clients} idle clients");
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }
        }

        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(gateway.OpenDescriptors() <= descriptorsBefore + Slack),
            TimeSpan.FromSeconds(60),
            "the gateway's descriptors to come back once the idle clients left",
            ct: cts.Token);
        Assert.False(gateway.HasExited, gateway.Output);
    }

    private static long ResidentMegabytes(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
}
