using System.Globalization;
using System.Net;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// The probes a load balancer or Kubernetes points at: <c>/healthz</c> while the process serves, <c>/readyz</c> 503 with
/// the reason while a group has no confirmed master (a master crashed) and 200 again once the promotion is confirmed.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class AdminProbeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task MasterCrashes_ReadyzNotReadyNamingTheGroupThenReadyAgain_HealthzAlwaysOk()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = TimeSpan.FromMilliseconds(2000) }, cts.Token);
        var adminPort = CliProcess.UnusedPort();
        await using var gateway = await GatewayProcess.StartAsync(
            cluster, descriptorLimit: 4096, ["--admin-port", adminPort.ToString(CultureInfo.InvariantCulture), "--log-level", "Warning"], cts.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}/"), Timeout = TimeSpan.FromSeconds(5) };

        Assert.Equal("ok", (await http.GetStringAsync(new Uri("healthz", UriKind.Relative), cts.Token)).Trim());
        var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative), cts.Token);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"ready\"", await ready.Content.ReadAsStringAsync(cts.Token), StringComparison.Ordinal);

        var before = await MetricsAsync(http, cts.Token);
        Assert.Equal(0, Sample(before, "clustergate_failovers_total"));
        Assert.Equal(3, Sample(before, "clustergate_groups"));

        var master = (await cluster.MasterPortsAsync(cts.Token))[0];
        await cluster.SegfaultAsync(master, cts.Token);
        string? notReady = null;
        await RedisCluster.WaitUntilAsync(
            async ct =>
            {
                var reply = await http.GetAsync(new Uri("readyz", UriKind.Relative), ct);
                if (reply.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    notReady = await reply.Content.ReadAsStringAsync(ct);
                }

                return notReady is not null;
            },
            TimeSpan.FromSeconds(30),
            "/readyz to answer 503 while the crashed master's group has none",
            ct: cts.Token);
        output.WriteLine($"/readyz during the failover: {notReady}");
        Assert.Matches("has no confirmed master", notReady);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("healthz", UriKind.Relative), cts.Token)).StatusCode);

        await cluster.WaitForPromotionAsync(master, TimeSpan.FromSeconds(30), cts.Token);
        await RedisCluster.WaitUntilAsync(
            async ct => (await http.GetAsync(new Uri("readyz", UriKind.Relative), ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30),
            "/readyz to answer 200 once the promotion is confirmed",
            ct: cts.Token);

        // The failover is counted, and /metrics is valid Prometheus text by Prometheus's own checker.
        var after = await MetricsAsync(http, cts.Token);
        output.WriteLine(after);
        Assert.Equal(1, Sample(after, "clustergate_failovers_total"));
        Assert.Equal(0, Sample(after, "clustergate_groups_without_master"));
        var (exitCode, stdout, stderr, _) = await ProcessRunner.RunAsync("promtool", ["check", "metrics"], after, TimeSpan.FromSeconds(30), cts.Token);
        output.WriteLine($"promtool check metrics: exit {exitCode}\n{stdout}{stderr}");
        Assert.Equal(0, exitCode);
        Assert.False(gateway.HasExited, gateway.Output);
    }

    private static async Task<string> MetricsAsync(HttpClient http, CancellationToken ct) =>
        await http.GetStringAsync(new Uri("metrics", UriKind.Relative), ct);

    /// <summary>The sum of a metric's samples (every tag set), 0 when it has none.</summary>
    private static double Sample(string exposition, string name) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[^1].Trim(), CultureInfo.InvariantCulture));
}
