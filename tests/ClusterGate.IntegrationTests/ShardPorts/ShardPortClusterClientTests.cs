using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using ClusterGate.IntegrationTests.Infrastructure;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>Real cluster-aware clients pointed at one shard port find the others and stay on gateway ports.</summary>
[Collection(ClusterCollection.Name)]
public sealed partial class ShardPortClusterClientTests(RedisClusterFixture fixture, SharedShardGateway shared, ITestOutputHelper output)
    : IClassFixture<SharedShardGateway>, IDisposable
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task RedisCliClusterMode_KeysOfAllGroups_SetGetSucceedAndRedirectsStayOnGatewayPorts()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var keys = Enumerable.Range(0, 300).Select(i => $"cli:{_run}:{i}").ToList();
        Assert.Equal(3, keys.Select(k => gateway.GroupOfSlot(HashSlots.Of(k))).Distinct().Count());

        var script = new StringBuilder();
        foreach (var key in keys)
        {
            script.Append(CultureInfo.InvariantCulture, $"SET {key} value-of-{key}\n");
        }

        foreach (var key in keys)
        {
            script.Append(CultureInfo.InvariantCulture, $"GET {key}\n");
        }

        var entry = gateway.Ports[0];
        var (exitCode, stdout, stderr) = await RunRedisCliAsync(["-c", "-h", "127.0.0.1", "-p", entry.ToString(CultureInfo.InvariantCulture)], script.ToString(), cts.Token);
        output.WriteLine($"redis-cli exit {exitCode}, stderr: {stderr}");
        output.WriteLine(stdout.Length > 4000 ? stdout[..4000] + "..." : stdout);
        Assert.Equal(0, exitCode);

        var redirects = Redirect().Matches(stdout);
        var results = new List<string>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var rest = Redirect().Replace(line, "").Trim();
            if (rest.Length > 0)
            {
                results.Add(rest);
            }
        }

        output.WriteLine($"{redirects.Count} redirects seen");
        Assert.True(redirects.Count > 0, "redis-cli was never redirected: the test did not exercise MOVED");
        foreach (Match redirect in redirects)
        {
            var port = int.Parse(redirect.Groups["port"].Value, CultureInfo.InvariantCulture);
            Assert.True(gateway.Ports.Contains(port), $"redis-cli was redirected to a non-gateway port: {redirect.Value}");
            Assert.Equal(gateway.PortOfSlot(int.Parse(redirect.Groups["slot"].Value, CultureInfo.InvariantCulture)), port);
        }

        Assert.Equal([.. keys.Select(_ => "OK"), .. keys.Select(k => "value-of-" + k)], results);

        // Every key is on the real master of its slot.
        foreach (var group in keys.GroupBy(k => gateway.MasterPortOfGroup(gateway.GroupOfSlot(HashSlots.Of(k)))))
        {
            await using var master = await RespClient.ConnectAsync(group.Key, cts.Token);
            foreach (var key in group)
            {
                Assert.Equal("value-of-" + key, (await master.CallAsync(TimeSpan.FromSeconds(5), cts.Token, "GET", key)).Text);
            }
        }
    }

    [Fact]
    public async Task StackExchangeRedis_OneShardPortAsEndpoint_DiscoversOnlyGatewayPortsAndServesAllSlots()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var config = new ConfigurationOptions { AbortOnConnectFail = false, ConnectTimeout = 5000, SyncTimeout = 5000 };
        config.EndPoints.Add("127.0.0.1", gateway.Ports[1]);
        using var log = new StringWriter(CultureInfo.InvariantCulture);
        try
        {
            using var mux = await ConnectionMultiplexer.ConnectAsync(config, log);
            await RedisCluster.WaitUntilAsync(
                _ => Task.FromResult(mux.GetEndPoints().Length >= 3 && mux.GetEndPoints().All(e => mux.GetServer(e).IsConnected)),
                TimeSpan.FromSeconds(20),
                "StackExchange.Redis to discover and connect 3 endpoints",
                () => string.Join(", ", mux.GetEndPoints().Select(e => $"{e} connected={mux.GetServer(e).IsConnected}")),
                cts.Token);

            var db = mux.GetDatabase();
            var keys = Enumerable.Range(0, 1000).Select(i => $"se:{_run}:{i}").ToList();
            Assert.Equal(3, keys.Select(k => gateway.GroupOfSlot(HashSlots.Of(k))).Distinct().Count());
            var sets = keys.Select(k => db.StringSetAsync(k, "se-" + k)).ToList();
            Assert.All(await Task.WhenAll(sets).WaitAsync(TimeSpan.FromSeconds(30), cts.Token), Assert.True);
            var gets = keys.Select(k => db.StringGetAsync(k)).ToList();
            var values = await Task.WhenAll(gets).WaitAsync(TimeSpan.FromSeconds(30), cts.Token);
            for (var i = 0; i < keys.Count; i++)
            {
                Assert.Equal("se-" + keys[i], (string?)values[i]);
            }

            var endpoints = mux.GetEndPoints().Select(e => e switch
            {
                IPEndPoint ip => ip.Port,
                DnsEndPoint dns => dns.Port,
                _ => -1,
            }).Order().ToList();
            output.WriteLine("endpoints: " + string.Join(", ", mux.GetEndPoints().Select(e => e.ToString())));
            Assert.Equal(gateway.Ports.Order(), endpoints);

            var clusterConfiguration = mux.GetServer(mux.GetEndPoints()[0]).ClusterConfiguration;
            Assert.NotNull(clusterConfiguration);
            var clusterNodes = clusterConfiguration.Nodes.Select(n => n.EndPoint?.ToString()).ToList();
            output.WriteLine("cluster configuration: " + string.Join(", ", clusterNodes));
            Assert.All(clusterNodes, n => Assert.Contains(gateway.Ports, p => n == $"127.0.0.1:{p}"));
        }
        finally
        {
            output.WriteLine("StackExchange.Redis log:\n" + log);
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunRedisCliAsync(IEnumerable<string> args, string stdin, CancellationToken ct)
    {
        var startInfo = new ProcessStartInfo("redis-cli")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("redis-cli did not start (apt-get install -y redis-tools).");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
            var stderr = process.StandardError.ReadToEndAsync(cts.Token);
            await process.StandardInput.WriteAsync(stdin.AsMemory(), cts.Token);
            process.StandardInput.Close();
            await process.WaitForExitAsync(cts.Token);
            return (process.ExitCode, await stdout, await stderr);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("redis-cli did not finish within 60 s.");
        }
    }

    [GeneratedRegex(@"-> Redirected to slot \[(?<slot>[0-9]+)\] located at (?<host>[^:\s]+):(?<port>[0-9]+)")]
    private static partial Regex Redirect();

    public void Dispose() => shared.Log.Output = null;
}
