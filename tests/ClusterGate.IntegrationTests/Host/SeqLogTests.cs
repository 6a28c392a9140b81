using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// <c>--seq-url</c>: the gateway's structured events reach Seq's ingestion API. No Seq server runs here, so a local
/// listener takes the sink's posts (CLEF, one JSON event per line) and the test finds the failover with its properties.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class SeqLogTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task MasterCrashes_FailoverEventPostedToSeqWithItsProperties()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var events = new ConcurrentQueue<JsonElement>();
        var paths = new ConcurrentQueue<string>();
        await using var seq = new LocalHttpReceiver(context => ReceiveAsync(context, events, paths));
        var seqPort = seq.Port;

        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = TimeSpan.FromMilliseconds(2000) }, cts.Token);
        var logDirectory = Directory.CreateTempSubdirectory("clustergate-log-").FullName;
        await using var gateway = await GatewayProcess.StartAsync(
            cluster,
            descriptorLimit: 4096,
            ["--seq-url", $"http://127.0.0.1:{seqPort}", "--log-file", Path.Combine(logDirectory, "gateway.json"), "--log-level", "Information"],
            cts.Token);

        var master = (await cluster.MasterPortsAsync(cts.Token))[0];
        await cluster.SegfaultAsync(master, cts.Token);
        var promoted = await cluster.WaitForPromotionAsync(master, TimeSpan.FromSeconds(30), cts.Token);
        JsonElement? failover = null;
        await RedisCluster.WaitUntilAsync(
            _ =>
            {
                failover = events.Cast<JsonElement?>().FirstOrDefault(e =>
                    e!.Value.TryGetProperty("Kind", out var kind) && kind.GetString() == "MasterChanged");
                return Task.FromResult(failover is not null);
            },
            TimeSpan.FromSeconds(30),
            "the MasterChanged event posted to Seq",
            ct: cts.Token);

        output.WriteLine($"posts to {string.Join(", ", paths.Distinct())}; {events.Count} events; failover: {failover}");
        Assert.Contains("/api/events/raw", paths);
        var e = failover!.Value;
        Assert.Equal("Topology {Kind}: group {GroupId}, node {NodeId}: {Detail}", e.GetProperty("@mt").GetString());
        Assert.Contains($"127.0.0.1:{promoted.Port}", e.GetProperty("Detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Number, e.GetProperty("GroupId").ValueKind);
        Assert.Equal("TopologyMonitor", e.GetProperty("Source").GetString());


        // The same event in the JSON log file (rolled daily: the date is in its name).
        var file = Assert.Single(Directory.GetFiles(logDirectory, "gateway*.json"));
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(ReadShared(file).Contains("\"Kind\":\"MasterChanged\"", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            "the failover in the JSON log file",
            ct: cts.Token);
        var line = ReadShared(file).Split('\n').First(l => l.Contains("\"Kind\":\"MasterChanged\"", StringComparison.Ordinal));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("Topology {Kind}: group {GroupId}, node {NodeId}: {Detail}", json.RootElement.GetProperty("MessageTemplate").GetString());
        Assert.StartsWith("Topology MasterChanged: group", json.RootElement.GetProperty("RenderedMessage").GetString(), StringComparison.Ordinal);

        await gateway.DisposeAsync();
        Directory.Delete(logDirectory, recursive: true);
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Seq's ingestion API as the sink uses it: CLEF, one JSON event per line, 201 Created.</summary>
    private static async Task ReceiveAsync(HttpListenerContext context, ConcurrentQueue<JsonElement> events, ConcurrentQueue<string> paths)
    {
        paths.Enqueue(context.Request.Url!.AbsolutePath);
        using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
        {
            foreach (var line in (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                events.Enqueue(JsonDocument.Parse(line).RootElement.Clone());
            }
        }

        context.Response.StatusCode = (int)HttpStatusCode.Created;
        context.Response.Close();
    }
}
