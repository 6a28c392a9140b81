using System.Globalization;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// The backend password appears in no log and no endpoint: a cluster that requires it, a gateway at the most detailed
/// level authenticating with it, clients that give it right and wrong on both frontends, a master crash (sessions move
/// and authenticate again), then the console, the JSON log file, every admin endpoint and the CLI's output searched.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class PasswordSecrecyTests(ITestOutputHelper output)
{
    // Distinctive, so no other text contains it by chance; letters and digits because redis.conf takes it unquoted.
    private const string Password = "Pw9secrecyQ7zX3kM";
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(150);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(10);
    private static readonly string[] AdminPaths = ["/", "/healthz", "/readyz", "/health", "/topology", "/shards", "/events", "/metrics"];

    [Fact]
    public async Task AuthCluster_TrafficWrongPasswordsAndFailover_PasswordInNoLogEndpointOrCliOutput()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { Password = Password, NodeTimeout = TimeSpan.FromMilliseconds(2000) }, cts.Token);
        await using (var direct = await RespClient.ConnectAsync(cluster.Nodes[0].Port, cts.Token))
        {
            var refused = await direct.CallAsync(ReplyBound, cts.Token, "PING");
            Assert.True(refused.IsError && refused.Text!.StartsWith("NOAUTH", StringComparison.Ordinal), $"the nodes do not require the password: {refused}");
        }

        var adminPort = CliProcess.UnusedPort();
        var logDirectory = Directory.CreateTempSubdirectory("clustergate-secret-").FullName;
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(
                cluster,
                descriptorLimit: 4096,
                ["--password", Password, "--log-level", "Verbose", "--log-file", Path.Combine(logDirectory, "gateway.json"), "--admin-port", adminPort.ToString(CultureInfo.InvariantCulture)],
                cts.Token);

            await TrafficAsync(gateway, "before", cts.Token);
            var master = (await cluster.MasterPortsAsync(cts.Token))[0];
            await cluster.SegfaultAsync(master, cts.Token);
            await cluster.WaitForPromotionAsync(master, TimeSpan.FromSeconds(30), cts.Token);
            await RedisCluster.WaitUntilAsync(
                _ => Task.FromResult(gateway.Output.Contains("MasterChanged", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(30),
                "the gateway to log the failover",
                ct: cts.Token);
            await TrafficAsync(gateway, "after", cts.Token);

            var texts = new Dictionary<string, string> { ["console"] = gateway.Output };
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = ReplyBound };
            foreach (var path in AdminPaths)
            {
                using var reply = await http.GetAsync(new Uri(path, UriKind.Relative), cts.Token);
                texts[path] = await reply.Content.ReadAsStringAsync(cts.Token);
            }

            var seed = $"127.0.0.1:{cluster.Nodes.First(n => n.Port != master).Port}";
            texts["clustergate status"] = await CliAsync(cts.Token, "status", "--admin", $"http://127.0.0.1:{adminPort}");
            texts["clustergate topology"] = await CliAsync(cts.Token, "topology", "--seed", seed, "--password", Password, "--json");
            texts["clustergate topology, text"] = await CliAsync(cts.Token, "topology", "--seed", seed, "--password", Password);
            texts["clustergate topology, wrong password"] = await CliAsync(cts.Token, "topology", "--seed", seed, "--password", "not-the-password");
            texts["clustergate run, bad settings"] = await CliAsync(cts.Token, "run", "--seed", "no-port", "--password", Password, "--log-level", "chatty");

            // The file is written by a background worker: wait for the failover in it, then stop the gateway so all is flushed.
            var file = Assert.Single(Directory.GetFiles(logDirectory, "gateway*.json"));
            await RedisCluster.WaitUntilAsync(
                _ => Task.FromResult(ReadShared(file).Contains("MasterChanged", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(10),
                "the failover in the JSON log file",
                ct: cts.Token);
            await gateway.DisposeAsync();
            texts["log file"] = ReadShared(file);

            foreach (var (where, text) in texts)
            {
                output.WriteLine($"{where}: {text.Length} characters");
                Assert.False(text.Contains(Password, StringComparison.Ordinal), $"the password is in {where}:\n{text}");
            }

            Assert.Contains("Session", texts["console"], StringComparison.Ordinal);   // Verbose lines were written
            Assert.Contains("\"groups\"", texts["clustergate topology"], StringComparison.Ordinal);
            Assert.Contains("Warning: --password on the command line is visible", texts["clustergate topology"], StringComparison.Ordinal);
            Assert.Contains("WRONGPASS", texts["clustergate topology, wrong password"], StringComparison.Ordinal);
            Assert.Contains("'chatty'", texts["clustergate run, bad settings"], StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(logDirectory, recursive: true);
        }
    }

    /// <summary>Commands with and without AUTH, a wrong password and a right one, on a shard port and the router port.</summary>
    private static async Task TrafficAsync(GatewayProcess gateway, string run, CancellationToken ct)
    {
        foreach (var port in new[] { gateway.ShardBasePort, gateway.RouterPort })
        {
            await using var client = await RespClient.ConnectAsync(port, ct);
            var wrong = await client.CallAsync(ReplyBound, ct, "AUTH", "not-the-password");
            Assert.True(wrong.IsError, $"a wrong password was taken on port {port}: {wrong}");
            Assert.True((await client.CallAsync(ReplyBound, ct, "AUTH", Password)).IsOk);
            Assert.True((await client.CallAsync(ReplyBound, ct, "AUTH", "default", Password)).IsOk);
            var hello = await client.CallAsync(ReplyBound, ct, "HELLO", "2", "AUTH", "default", "wrong-again");
            Assert.True(hello.IsError, $"HELLO with a wrong password was taken on port {port}: {hello}");

            // Keys of every group, so the router uses each shared connection and the shard port redirects.
            for (var i = 0; i < 20; i++)
            {
                var key = $"secret:{run}:{i}";
                var set = await client.CallAsync(ReplyBound, ct, "SET", key, "v");
                Assert.True(set.IsOk || (set.IsError && set.Text!.StartsWith("MOVED", StringComparison.Ordinal)), $"SET {key} on port {port}: {set}");
            }
        }

        // A client that never authenticates itself is refused as Redis refuses it: the gateway's credentials are not its.
        foreach (var port in new[] { gateway.ShardBasePort, gateway.RouterPort })
        {
            await using var anonymous = await RespClient.ConnectAsync(port, ct);
            Assert.Equal("-NOAUTH Authentication required.", (await anonymous.CallAsync(ReplyBound, ct, "SET", $"secret:{run}:anonymous", "v")).ToString());
        }
    }

    /// <summary>The CLI as its own process: <c>topology</c> writes to the console itself.</summary>
    private static async Task<string> CliAsync(CancellationToken ct, params string[] args)
    {
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync(TimeSpan.FromSeconds(30), ct, args);
        return $"exit {exitCode}\n{stdout}\n{stderr}";
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
