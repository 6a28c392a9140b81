using System.Globalization;
using System.Net.Sockets;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// <c>--transport</c>: <c>auto</c> takes io_uring where it is allowed and falls back to Kestrel's sockets where a
/// seccomp profile refuses it (as container runtimes do by default), saying so in one log line and in
/// <c>/health</c>; <c>io-uring</c> refuses to start there. The refusal is real: <c>tools/no-io-uring.py</c>
/// installs a seccomp filter that fails <c>io_uring_setup</c> with EPERM, then runs the gateway.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TransportSelectionTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Auto_IoUringAllowed_ServesOnIoUringAndHealthSaysSo()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var adminPort = CliProcess.UnusedPort();
        await using var gateway = await GatewayProcess.StartAsync(fixture.Cluster, 4096, ["--admin-port", Port(adminPort), "--transport", "auto"], cts.Token);

        Assert.Contains("Transport: io_uring (available, ", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("\"transport\": \"io_uring\"", await HealthAsync(adminPort, cts.Token), StringComparison.Ordinal);
        await AssertServesAsync(gateway, cts.Token);
    }

    [Fact]
    public async Task Auto_IoUringRefusedBySeccomp_FallsBackToSocketsSayingWhy()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var adminPort = CliProcess.UnusedPort();
        await using var gateway = await GatewayProcess.StartAsync(fixture.Cluster, 4096, ["--admin-port", Port(adminPort), "--transport", "auto"], cts.Token, launcher: NoIoUring());
        output.WriteLine(gateway.Output);

        Assert.Contains("Transport: sockets (io_uring not available: io_uring_setup is not permitted", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("\"transport\": \"sockets\"", await HealthAsync(adminPort, cts.Token), StringComparison.Ordinal);
        await AssertServesAsync(gateway, cts.Token);
    }

    [Fact]
    public async Task IoUringRequired_RefusedBySeccomp_Exit2WithOneLineSayingWhy()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var dll = Path.Combine(AppContext.BaseDirectory, "clustergate.dll");
        var dotnet = ProcessRunner.FindOnPath("dotnet") ?? throw new InvalidOperationException("dotnet is not on PATH.");
        string[] args = [.. NoIoUring().Skip(1), dotnet, dll, "run", "--seed", $"127.0.0.1:{fixture.Cluster.Nodes[0].Port}", "--bind", "127.0.0.1",
            "--shard-base-port", Port(ShardGateway.FreePortRange(ShardGateway.PortRange)), "--transport", "io-uring", "--log-level", "Fatal"];

        var (exitCode, _, stderr) = await ProcessRunner.RunAsync(NoIoUring()[0], args, TimeSpan.FromSeconds(30), cts.Token);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("clustergate: transport io-uring (--transport): io_uring_setup is not permitted", line, StringComparison.Ordinal);
    }

    private static async Task AssertServesAsync(GatewayProcess gateway, CancellationToken ct)
    {
        await using var router = await RespClient.ConnectAsync(gateway.RouterPort, ct);
        Assert.Equal("+OK", (await router.CallAsync(ReplyBound, ct, "SET", "transport:{a}", "v")).ToString());
        Assert.Equal("$v", (await router.CallAsync(ReplyBound, ct, "GET", "transport:{a}")).ToString());
        await using var shard = await RespClient.ConnectAsync(gateway.ShardBasePort, ct);
        Assert.Equal("+PONG", (await shard.CallAsync(ReplyBound, ct, "PING")).ToString());
    }

    private static async Task<string> HealthAsync(int adminPort, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}/"), Timeout = ReplyBound };
        return await http.GetStringAsync(new Uri("health", UriKind.Relative), ct);
    }

    /// <summary><c>python3 tools/no-io-uring.py</c>, from the repository.</summary>
    private static string[] NoIoUring() =>
        [ProcessRunner.FindOnPath("python3") ?? throw new InvalidOperationException("python3 is not on PATH."), Path.Combine(Repository.Root(), "tools", "no-io-uring.py")];

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
