using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ClusterGate.IntegrationTests.Host;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>
/// A shard group that appears while the gateway runs (a new master given slots) and whose port is held by another
/// process: the gateway runs on, says so once in the log and in <c>/readyz</c>, retries at every topology refresh
/// and serves the group on that port once it is free, or stops waiting for it once the group is gone again. A private
/// cluster per test, since the tests add a node to it.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class ShardPortRuntimeBindTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StepBound = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A quarter of the default 1 s, so the seconds the test watches the log span a dozen refreshes.</summary>
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>The slot the new master gets: inside group 0's range, and empty (the cluster is fresh).</summary>
    private const int NewGroupSlot = 100;

    /// <summary>Groups 0 to 2 are found at start; ids are never reused, so the new one is 3 and listens on base + 3.</summary>
    private const int NewGroupId = 3;

    [Fact]
    public async Task GroupAppears_PortTaken_NotReadyNamingGroupAndPortLoggedOnceThenServedOncePortIsFree()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var lab = await GatewayLab.StartAsync(cts.Token);
        var (cluster, gateway, http) = (lab.Cluster, lab.Gateway, lab.Http);
        var newPort = gateway.ShardBasePort + NewGroupId;
        var servesLine = $"Shard port {newPort} serves group {NewGroupId}";
        var squatter = new TcpListener(IPAddress.Loopback, newPort);
        squatter.Start();
        try
        {
            var node = await cluster.AddEmptyMasterAsync(lab.ClusterOptions, StepBound, cts.Token);
            await cluster.MoveEmptySlotAsync(NewGroupSlot, node, StepBound, cts.Token);
            output.WriteLine($"slot {NewGroupSlot} now on {node}; shard port {newPort} held by the test");

            // (b) Not ready, naming the group and its port; alive all the same.
            var notReady = await WaitForReadyzAsync(http, HttpStatusCode.ServiceUnavailable, $"shard port {newPort} of group {NewGroupId}", cts.Token);
            output.WriteLine($"/readyz while the port is held: {notReady}");
            Assert.Contains("address already in use", notReady, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "healthz", cts.Token)).Status);

            // (c) Logged once, not at every refresh: watch a dozen refreshes go by with the port still held.
            await Task.Delay(RefreshInterval * 12, cts.Token);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(http, "readyz", cts.Token)).Status);
            Assert.Equal(1, CountLines(gateway.Output, FailedLine(newPort)));
            Assert.Equal(0, CountLines(gateway.Output, servesLine));

            // (a) The process runs on and the groups found at start serve on their ports.
            Assert.False(gateway.HasExited, gateway.Output);
            await AssertServesAsync(gateway.ShardBasePort + 0, HashSlots.TagWhere(s => s is > 200 and < 5000), cts.Token);
            await AssertServesAsync(gateway.ShardBasePort + 1, HashSlots.TagWhere(s => s is > 6000 and < 10000), cts.Token);
            await AssertServesAsync(gateway.ShardBasePort + 2, HashSlots.TagWhere(s => s is > 11000 and < 16000), cts.Token);
        }
        finally
        {
            squatter.Stop();
            squatter.Dispose();
        }

        // (d) Bound at a later refresh once free, and the new group is served there: the key lands on the new master.
        await RedisCluster.WaitUntilAsync(
            async ct => await PingsAsync(newPort, ct),
            StepBound,
            $"shard port {newPort} to answer PING once the test released it",
            () => gateway.Output,
            cts.Token);
        var tag = HashSlots.TagWhere(s => s == NewGroupSlot);
        await AssertServesAsync(newPort, tag, cts.Token);
        var newMaster = cluster.Nodes[^1];
        Assert.Equal("v", await RespProbe.SendAsync(newMaster.Port, CommandTimeout, cts.Token, "GET", Key(tag)) as string);

        await WaitForReadyzAsync(http, HttpStatusCode.OK, "\"ready\"", cts.Token);
        Assert.Equal(1, CountLines(gateway.Output, FailedLine(newPort)));
        Assert.Equal(1, CountLines(gateway.Output, servesLine));
        Assert.False(gateway.HasExited, gateway.Output);
    }

    [Fact]
    public async Task GroupAppearsThenGoes_PortTakenAllAlong_ReadyAgainWithoutIt()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var lab = await GatewayLab.StartAsync(cts.Token);
        var (cluster, gateway, http) = (lab.Cluster, lab.Gateway, lab.Http);
        var newPort = gateway.ShardBasePort + NewGroupId;
        using var squatter = new TcpListener(IPAddress.Loopback, newPort);
        squatter.Start();
        try
        {
            var formerOwner = cluster.Node(await cluster.MasterPortForSlotAsync(NewGroupSlot, cts.Token));
            var node = await cluster.AddEmptyMasterAsync(lab.ClusterOptions, StepBound, cts.Token);
            await cluster.MoveEmptySlotAsync(NewGroupSlot, node, StepBound, cts.Token);
            await WaitForReadyzAsync(http, HttpStatusCode.ServiceUnavailable, $"shard port {newPort} of group {NewGroupId}", cts.Token);

            // The slot goes back: group 3 is retired without ever having had its port, so nothing is left to wait for.
            await cluster.MoveEmptySlotAsync(NewGroupSlot, formerOwner, StepBound, cts.Token);
            var ready = await WaitForReadyzAsync(http, HttpStatusCode.OK, "\"ready\"", cts.Token);
            Assert.DoesNotContain($"group {NewGroupId}", ready, StringComparison.Ordinal);
            Assert.Equal(1, CountLines(gateway.Output, FailedLine(newPort)));
            await AssertServesAsync(gateway.ShardBasePort + 0, HashSlots.TagWhere(s => s == NewGroupSlot), cts.Token);
            Assert.False(gateway.HasExited, gateway.Output);
        }
        finally
        {
            squatter.Stop();
        }
    }

    private static string FailedLine(int port) => $"Shard port {port} for group {NewGroupId} could not be bound";

    private static string Key(string tag) => $"{{{tag}}}:runtime-bind";

    /// <summary>Polls <c>/readyz</c> until it answers <paramref name="status"/> with <paramref name="text"/> in its body; returns the body.</summary>
    private static async Task<string> WaitForReadyzAsync(HttpClient http, HttpStatusCode status, string text, CancellationToken ct)
    {
        var last = "";
        await RedisCluster.WaitUntilAsync(
            async token =>
            {
                var (answered, body) = await GetAsync(http, "readyz", token);
                last = body;
                return answered == status && body.Contains(text, StringComparison.Ordinal);
            },
            StepBound,
            $"/readyz to answer {(int)status} with {text}",
            () => last,
            ct);
        return last;
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(HttpClient http, string path, CancellationToken ct)
    {
        using var reply = await http.GetAsync(new Uri(path, UriKind.Relative), ct);
        return (reply.StatusCode, await reply.Content.ReadAsStringAsync(ct));
    }

    /// <summary>SET then GET of a key with hash tag <paramref name="tag"/> through <paramref name="port"/>; no redirect, no error.</summary>
    private static async Task AssertServesAsync(int port, string tag, CancellationToken ct)
    {
        await using var client = await RespClient.ConnectAsync(port, ct);
        var key = Key(tag);
        Assert.Equal("+PONG", (await client.CallAsync(CommandTimeout, ct, "PING")).ToString());
        var set = await client.CallAsync(CommandTimeout, ct, "SET", key, "v");
        Assert.True(set.IsOk, $"SET {key} (slot {HashSlots.Of(key)}) through port {port}: {set}");
        Assert.Equal("v", (await client.CallAsync(CommandTimeout, ct, "GET", key)).Text);
    }

    private static async Task<bool> PingsAsync(int port, CancellationToken ct)
    {
        try
        {
            await using var client = await RespClient.ConnectAsync(port, ct);
            return (await client.CallAsync(CommandTimeout, ct, "PING")).ToString() == "+PONG";
        }
        catch (Exception ex) when (ex is IOException or SocketException or TimeoutException or EndOfStreamException)
        {
            return false;
        }
    }

    private static int CountLines(string log, string text) =>
        log.Split('\n').Count(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>A private cluster and the gateway process on it, with the admin port and a fast topology refresh.</summary>
    private sealed class GatewayLab : IAsyncDisposable
    {
        private GatewayLab(RedisClusterOptions clusterOptions, RedisCluster cluster, GatewayProcess gateway, HttpClient http)
        {
            ClusterOptions = clusterOptions;
            Cluster = cluster;
            Gateway = gateway;
            Http = http;
        }

        public RedisClusterOptions ClusterOptions { get; }

        public RedisCluster Cluster { get; }

        public GatewayProcess Gateway { get; }

        public HttpClient Http { get; }

        public static async Task<GatewayLab> StartAsync(CancellationToken ct)
        {
            var clusterOptions = new RedisClusterOptions();
            var cluster = await RedisCluster.StartAsync(clusterOptions, ct);
            GatewayProcess? gateway = null;
            try
            {
                var config = Path.Combine(cluster.Directory, "gateway.json");
                await File.WriteAllTextAsync(
                    config,
                    $$"""{ "Topology": { "RefreshInterval": "{{RefreshInterval.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}}ms" } }""",
                    ct);
                var adminPort = CliProcess.UnusedPort();
                gateway = await GatewayProcess.StartAsync(
                    cluster, descriptorLimit: 4096, ["--config", config, "--admin-port", adminPort.ToString(CultureInfo.InvariantCulture)], ct);
                using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}/"), Timeout = CommandTimeout };
                await WaitForReadyzAsync(probe, HttpStatusCode.OK, "\"ready\"", ct);
                return new GatewayLab(clusterOptions, cluster, gateway, new HttpClient { BaseAddress = probe.BaseAddress, Timeout = CommandTimeout });
            }
            catch
            {
                if (gateway is not null)
                {
                    await gateway.DisposeAsync();
                }

                await cluster.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Gateway.DisposeAsync();
            await Cluster.DisposeAsync();
        }
    }
}
