using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ClusterGate.Cli;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// A start that cannot bind what it was asked to (a port in use, an address not on this host, two settings on one port)
/// stops at once: exit code 2, one line naming the setting, the address and the reason, no stack trace, no retry loop.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StartupPortFailureTests(RedisClusterFixture fixture)
{
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task ShardPortInUse_Exit2WithinFiveSecondsOneLineNamingThePort()
    {
        var basePort = ShardGateway.FreePortRange(ShardGateway.PortRange);
        using var squatter = new TcpListener(IPAddress.Loopback, basePort + 1);
        squatter.Start();

        var (exitCode, stderr, elapsed) = await RunAsync("--shard-base-port", Port(basePort));

        Assert.Equal(2, exitCode);
        var line = Assert.Single(Lines(stderr));
        Assert.Equal($"clustergate: shard port {basePort + 1} of group 1 (--shard-base-port {basePort}) on 127.0.0.1: address already in use", line);
        Assert.True(elapsed < StartBound, $"took {elapsed}");
    }

    [Fact]
    public async Task RouterPortInUse_Exit2OneLineNamingTheSetting()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var routerPort = ((IPEndPoint)squatter.LocalEndpoint).Port;

        var (exitCode, stderr, _) = await RunAsync("--shard-base-port", Port(ShardGateway.FreePortRange(ShardGateway.PortRange)), "--router-port", Port(routerPort));

        Assert.Equal(2, exitCode);
        Assert.Equal($"clustergate: router port {routerPort} (--router-port) on 127.0.0.1: address already in use", Assert.Single(Lines(stderr)));
    }

    [Fact]
    public async Task RouterPortIsAShardPort_Exit2NamingBothSettings()
    {
        var basePort = ShardGateway.FreePortRange(ShardGateway.PortRange);

        var (exitCode, stderr, _) = await RunAsync("--shard-base-port", Port(basePort), "--router-port", Port(basePort + 2));

        Assert.Equal(2, exitCode);
        Assert.Equal(
            $"clustergate: router port {basePort + 2} (--router-port) is also the shard port of group 2 (--shard-base-port {basePort})",
            Assert.Single(Lines(stderr)));
    }

    [Fact]
    public async Task BindAddressNotOnThisHost_Exit2OneLinePerPort()
    {
        // TEST-NET-1 (RFC 5737): never a local address. Binding to it fails locally; nothing is sent anywhere.
        var basePort = ShardGateway.FreePortRange(ShardGateway.PortRange);

        var (exitCode, stderr, _) = await RunAsync(["--shard-base-port", Port(basePort)], bind: "192.0.2.1");

        Assert.Equal(2, exitCode);
        var lines = Lines(stderr);
        Assert.Equal(3, lines.Count);
        Assert.All(lines, l => Assert.EndsWith("on 192.0.2.1: address not available on this host", l, StringComparison.Ordinal));
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private Task<(int ExitCode, string Stderr, TimeSpan Elapsed)> RunAsync(params string[] args) => RunAsync(args, "127.0.0.1");

    private async Task<(int ExitCode, string Stderr, TimeSpan Elapsed)> RunAsync(string[] args, string bind)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var watch = Stopwatch.StartNew();
        string[] all = ["run", "--seed", $"127.0.0.1:{fixture.Cluster.Nodes[0].Port}", "--bind", bind, "--log-level", "Fatal", .. args];
        var exitCode = await ClusterGateCli.RunAsync(all, output, error).WaitAsync(TimeSpan.FromSeconds(30));
        return (exitCode, error.ToString(), watch.Elapsed);
    }

    private static List<string> Lines(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
