using System.Collections.Concurrent;
using System.Net;
using System.Text;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// <c>--otlp-endpoint</c>: the metrics of <c>/metrics</c> are pushed over OTLP too. No collector runs here, so a local
/// listener takes the exporter's OTLP/HTTP posts (protobuf) and the test finds the gateway's metrics in them.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class OtlpExportTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task OtlpEndpoint_HttpMetricsPath_GatewayMetricsPostedAsProtobuf()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var posts = new ConcurrentQueue<(string Path, string? ContentType, byte[] Body)>();
        await using var collector = new LocalHttpReceiver(context => ReceiveAsync(context, posts));
        var collectorPort = collector.Port;

        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions(), cts.Token);
        await using var gateway = await GatewayProcess.StartAsync(
            cluster,
            descriptorLimit: 4096,
            ["--otlp-endpoint", $"http://127.0.0.1:{collectorPort}/v1/metrics", "--log-level", "Warning"],
            cts.Token,
            launcher: ["env", "OTEL_METRIC_EXPORT_INTERVAL=500"]);

        await using (var client = await RespClient.ConnectAsync(gateway.RouterPort, cts.Token))
        {
            for (var i = 0; i < 10; i++)
            {
                Assert.True((await client.CallAsync(TimeSpan.FromSeconds(10), cts.Token, "SET", $"otlp:{i}", "v")).IsOk);
            }
        }

        // Metric names are strings in the protobuf: found as their UTF-8 bytes.
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(posts.Any(p => Contains(p.Body, "clustergate.commands") && Contains(p.Body, "clustergate.group.commands"))),
            TimeSpan.FromSeconds(20),
            "the gateway's metrics posted over OTLP",
            () => $"{posts.Count} posts",
            cts.Token);

        var post = posts.First(p => Contains(p.Body, "clustergate.commands"));
        output.WriteLine($"{posts.Count} posts; first with the metrics: {post.Path}, {post.ContentType}, {post.Body.Length} bytes");
        Assert.Equal("/v1/metrics", post.Path);
        Assert.Equal("application/x-protobuf", post.ContentType);
        Assert.True(Contains(post.Body, "router"), "the frontend tag is in the export");
        Assert.False(gateway.HasExited, gateway.Output);

    }

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    /// <summary>An OTLP/HTTP collector's metrics endpoint: the protobuf body kept, an empty ExportMetricsServiceResponse back.</summary>
    private static async Task ReceiveAsync(HttpListenerContext context, ConcurrentQueue<(string, string?, byte[])> posts)
    {
        using var body = new MemoryStream();
        await context.Request.InputStream.CopyToAsync(body);
        posts.Enqueue((context.Request.Url!.AbsolutePath, context.Request.ContentType, body.ToArray()));
        context.Response.StatusCode = (int)HttpStatusCode.OK;
        context.Response.ContentType = "application/x-protobuf";
        context.Response.Close();
    }
}
