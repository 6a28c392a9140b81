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

        // Commands are counted per frontend, with their bytes; one read in 16 per connection is timed.
        var tagOnBasePort = await TagOnPortAsync(http, cluster, gateway.ShardBasePort, cts.Token);
        foreach (var port in new[] { gateway.RouterPort, gateway.ShardBasePort })
        {
            await using var client = await RespClient.ConnectAsync(port, cts.Token);
            for (var i = 0; i < 40; i++)
            {
                // A key of the first shard port's group: served there without a redirect, and by one master through the router.
                Assert.True((await client.CallAsync(TimeSpan.FromSeconds(10), cts.Token, "SET", $"probe:{{{tagOnBasePort}}}:{i}", "v")).IsOk);
            }

            // An error reply is counted by its kind.
            Assert.StartsWith("ERR wrong number of arguments", (await client.CallAsync(TimeSpan.FromSeconds(10), cts.Token, "GET")).Text, StringComparison.Ordinal);
        }

        var before = await MetricsAsync(http, cts.Token);
        output.WriteLine(before);
        // (the start-up check's PING is counted too)
        Assert.InRange(SampleWhere(before, "clustergate_commands_total", "frontend=\"router\""), 41, 51);
        Assert.InRange(SampleWhere(before, "clustergate_commands_total", "frontend=\"shard\""), 41, 51);

        // By class, from Redis's flags: the 40 SETs are writes, the GET a read, the PINGs other.
        foreach (var frontend in new[] { "frontend=\"router\"", "frontend=\"shard\"" })
        {
            Assert.Equal(40, SampleWhere(before, "clustergate_commands_total", frontend, "class=\"write\""));
            Assert.Equal(1, SampleWhere(before, "clustergate_commands_total", frontend, "class=\"read\""));
        }

        Assert.Equal(0, Sample(before, "clustergate_failovers_total"));
        Assert.Equal(3, Sample(before, "clustergate_groups"));
        foreach (var frontend in new[] { "router", "shard" })
        {
            var tag = $"frontend=\"{frontend}\"";
            Assert.InRange(SampleWhere(before, "clustergate_command_duration_seconds_count", tag), 2, 40);
            Assert.InRange(SampleWhere(before, "clustergate_command_gateway_duration_seconds_count", tag), 2, 40);
            Assert.True(SampleWhere(before, "clustergate_command_duration_seconds_sum", tag) > 0, frontend);
            Assert.Equal(1, SampleWhere(before, "clustergate_command_errors_total", tag, "kind=\"other\""));
            Assert.Equal(0, SampleWhere(before, "clustergate_command_errors_total", tag, "kind=\"moved\""));
            Assert.True(SampleWhere(before, "clustergate_client_io_bytes_total", tag, "direction=\"in\"") >= 40 * 30, frontend);
            Assert.True(SampleWhere(before, "clustergate_client_io_bytes_total", tag, "direction=\"out\"") >= 40 * 5, frontend);
        }

        // By group too: both frontends sent the 40 SETs to the base port's group, and timed some of them there.
        var group = $"group=\"{await GroupOfPortAsync(http, gateway.ShardBasePort, cts.Token)}\"";
        Assert.InRange(SampleWhere(before, "clustergate_group_commands_total", "frontend=\"shard\"", group), 41, 51);
        Assert.InRange(SampleWhere(before, "clustergate_group_commands_total", "frontend=\"router\"", group), 40, 41);
        Assert.Equal(SampleWhere(before, "clustergate_group_commands_total", "frontend=\"shard\""), SampleWhere(before, "clustergate_group_commands_total", "frontend=\"shard\"", group));
        Assert.InRange(SampleWhere(before, "clustergate_command_duration_seconds_count", "frontend=\"shard\"", group), 2, 40);
        Assert.InRange(SampleWhere(before, "clustergate_command_duration_seconds_count", "frontend=\"router\"", group), 2, 40);
        Assert.True(Sample(before, "clustergate_topology_refreshes_total") >= 1);
        Assert.True(SampleWhere(before, "clustergate_router_backend_connections", "state=\"connected\"") >= 1);

        // A client on every shard port and one on the router, each with a command sent while the master is down: the
        // crashed group's are held until its new master is confirmed.
        var master = (await cluster.MasterPortsAsync(cts.Token))[0];
        List<RespClient> clients = [await RespClient.ConnectAsync(gateway.RouterPort, cts.Token)];
        for (var port = gateway.ShardBasePort; port < gateway.ShardBasePort + 3; port++)
        {
            clients.Add(await RespClient.ConnectAsync(port, cts.Token));
            Assert.Equal("+PONG", (await clients[^1].CallAsync(TimeSpan.FromSeconds(10), cts.Token, "PING")).ToString());
        }

        // One client session on each shard port: one connection to each group's master (once the first clients' are closed).
        var connections = "";
        await RedisCluster.WaitUntilAsync(
            async ct => SampleWhere(connections = await MetricsAsync(http, ct), "clustergate_group_connections", "frontend=\"shard\"") == 3,
            TimeSpan.FromSeconds(10),
            "one shard port session per group in clustergate_group_connections",
            ct: cts.Token);
        output.WriteLine(string.Join('\n', connections.Split('\n').Where(l => l.StartsWith("clustergate_group_connections", StringComparison.Ordinal))));
        Assert.Equal(1, SampleWhere(connections, "clustergate_group_connections", "frontend=\"shard\"", group));

        var crashedTag = await TagOfMasterAsync(cluster, master, cts.Token);
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
        await clients[0].SendAsync(cts.Token, "SET", $"probe:{{{crashedTag}}}:held", "v");
        foreach (var client in clients.Skip(1))
        {
            await client.SendAsync(cts.Token, "PING");
        }

        Assert.Matches("has no confirmed master", notReady);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("healthz", UriKind.Relative), cts.Token)).StatusCode);

        await cluster.WaitForPromotionAsync(master, TimeSpan.FromSeconds(30), cts.Token);
        await RedisCluster.WaitUntilAsync(
            async ct => (await http.GetAsync(new Uri("readyz", UriKind.Relative), ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30),
            "/readyz to answer 200 once the promotion is confirmed",
            ct: cts.Token);

        // The failover is counted (the event may follow the snapshot /readyz reads by a moment), and /metrics is valid
        // Prometheus text by Prometheus's own checker.
        var after = "";
        await RedisCluster.WaitUntilAsync(
            async ct => Sample(after = await MetricsAsync(http, ct), "clustergate_failovers_total") >= 1,
            TimeSpan.FromSeconds(10),
            "the failover counted in /metrics",
            ct: cts.Token);
        output.WriteLine(after);
        Assert.Equal(1, Sample(after, "clustergate_failovers_total"));
        Assert.Equal(0, Sample(after, "clustergate_groups_without_master"));

        // Every held command answered; the failover's phases timed; the held commands and the waits counted.
        Assert.True((await clients[0].ReadAsync(TimeSpan.FromSeconds(30), cts.Token)).IsOk);
        foreach (var client in clients.Skip(1))
        {
            Assert.Equal("+PONG", (await client.ReadAsync(TimeSpan.FromSeconds(30), cts.Token)).ToString());
        }

        await RedisCluster.WaitUntilAsync(
            async ct => SampleWhere(await MetricsAsync(http, ct), "clustergate_failover_phase_duration_seconds_count", "phase=\"resumed\"") >= 1,
            TimeSpan.FromSeconds(10),
            "the failover's resumed phase to be recorded",
            ct: cts.Token);
        after = await MetricsAsync(http, cts.Token);
        output.WriteLine(after);
        Assert.Equal(1, SampleWhere(after, "clustergate_failover_phase_duration_seconds_count", "phase=\"promotion\""));

        // The same failover in /failovers, with its phases.
        var failoversJson = await http.GetStringAsync(new Uri("failovers", UriKind.Relative), cts.Token);
        output.WriteLine(failoversJson);
        using (var failovers = System.Text.Json.JsonDocument.Parse(failoversJson))
        {
            var failover = Assert.Single(failovers.RootElement.GetProperty("failovers").EnumerateArray());
            Assert.Equal("resumed", failover.GetProperty("state").GetString());
            Assert.True(failover.GetProperty("promotionMs").GetDouble() > 0);
            Assert.True(failover.GetProperty("resumedMs").GetDouble() >= 0);
            Assert.NotEqual(failover.GetProperty("oldMaster").GetString(), failover.GetProperty("newMaster").GetString());
        }

        Assert.True(Sample(after, "clustergate_router_commands_held_total") >= 1);
        Assert.True(SampleWhere(after, "clustergate_connections_master_waits_total", "frontend=\"shard\"") >= 1);
        Assert.Equal(0, Sample(after, "clustergate_connections_waiting_for_master"));
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        var (exitCode, stdout, stderr, _) = await ProcessRunner.RunAsync("promtool", ["check", "metrics"], after, TimeSpan.FromSeconds(30), cts.Token);
        output.WriteLine($"promtool check metrics: exit {exitCode}\n{stdout}{stderr}");
        Assert.Equal(0, exitCode);
        Assert.False(gateway.HasExited, gateway.Output);
    }

    private static async Task<string> MetricsAsync(HttpClient http, CancellationToken ct) =>
        await http.GetStringAsync(new Uri("metrics", UriKind.Relative), ct);

    /// <summary>The sum of a metric's samples that carry every one of <paramref name="tags"/>.</summary>
    private static double SampleWhere(string exposition, string name, params string[] tags) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && tags.All(t => l.Contains(t, StringComparison.Ordinal)))
            .Sum(l => double.Parse(l.Split(' ')[^1].Trim(), CultureInfo.InvariantCulture));

    /// <summary>The group whose shard port is <paramref name="shardPort"/> (the admin port's /shards).</summary>
    private static async Task<int> GroupOfPortAsync(HttpClient http, int shardPort, CancellationToken ct)
    {
        using var shards = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri("shards", UriKind.Relative), ct));
        return shards.RootElement.GetProperty("shards").EnumerateArray().Single(s => s.GetProperty("port").GetInt32() == shardPort).GetProperty("group").GetInt32();
    }

    /// <summary>A hash tag whose slot the master behind <paramref name="shardPort"/> serves (the admin port's /shards says which).</summary>
    private static async Task<string> TagOnPortAsync(HttpClient http, RedisCluster cluster, int shardPort, CancellationToken ct)
    {
        using var shards = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri("shards", UriKind.Relative), ct));
        var shard = shards.RootElement.GetProperty("shards").EnumerateArray().Single(s => s.GetProperty("port").GetInt32() == shardPort);
        var master = shard.GetProperty("master").GetString()!; // host:port
        return await TagOfMasterAsync(cluster, int.Parse(master[(master.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture), ct);
    }

    /// <summary>A hash tag whose slot the master at <paramref name="masterPort"/> serves (its own CLUSTER NODES line).</summary>
    private static async Task<string> TagOfMasterAsync(RedisCluster cluster, int masterPort, CancellationToken ct)
    {
        var own = (await cluster.ClusterNodeLinesAsync(masterPort, ct)).Single(l => l.IsMyself);
        var ranges = own.Slots.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(r => !r.StartsWith('[')) // slots being migrated: [slot->-node]
            .Select(r => r.Split('-'))
            .Select(r => (From: int.Parse(r[0], CultureInfo.InvariantCulture), To: int.Parse(r[^1], CultureInfo.InvariantCulture)))
            .ToList();
        return HashSlots.TagWhere(slot => ranges.Any(r => slot >= r.From && slot <= r.To));
    }

    /// <summary>The sum of a metric's samples (every tag set), 0 when it has none.</summary>
    private static double Sample(string exposition, string name) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(name + (name.EndsWith('}') ? " " : "{"), StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[^1].Trim(), CultureInfo.InvariantCulture));
}
