using System.Text.Json;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;

namespace ClusterGate.IntegrationTests.Host;

/// <summary><c>clustergate topology</c> as a user runs it: the real executable in a child process.</summary>
public sealed class TopologyCommandTests
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Topology_OnlyDeadSeeds_ExitCode1AndOneLineNamingEachSeed()
    {
        var first = CliProcess.UnusedPort();
        var second = CliProcess.UnusedPort();

        var (exitCode, stdout, stderr) = await CliProcess.RunAsync(
            CliTimeout, CancellationToken.None, "topology", "--seed", $"127.0.0.1:{first}", "--seed", $"127.0.0.1:{second}");

        Assert.Equal(1, exitCode);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("clustergate: no seed answered", line, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{first}", line, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{second}", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Topology_BadSeed_ExitCode2()
    {
        var (exitCode, _, stderr) = await CliProcess.RunAsync(CliTimeout, CancellationToken.None, "topology", "--seed", "nowhere");

        Assert.Equal(2, exitCode);
        Assert.StartsWith("clustergate: --seed 'nowhere'", stderr, StringComparison.Ordinal);
    }
}

/// <summary><c>clustergate topology --json</c> against a real cluster, checked against the cluster's own <c>CLUSTER NODES</c>.</summary>
[Collection(ClusterCollection.Name)]
public sealed class TopologyCommandClusterTests(RedisClusterFixture fixture)
{
    [Fact]
    public async Task TopologyJson_HealthyCluster_MatchesClusterNodes()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var cluster = fixture.Cluster;
        var seed = cluster.Nodes[0].Port;

        var (exitCode, stdout, stderr) = await CliProcess.RunAsync(
            TimeSpan.FromSeconds(60), cts.Token, "topology", "--json", "--seed", $"127.0.0.1:{seed}");

        Assert.True(exitCode == 0, $"exit code {exitCode}: {stderr}");
        var lines = await cluster.ClusterNodeLinesAsync(seed, cts.Token);
        var expected = lines
            .Where(l => l.IsMaster && l.Slots.Length > 0)
            .Select(m => new
            {
                Master = (m.Id, m.Port),
                Replicas = string.Join(',', lines.Where(r => r.IsReplica && r.MasterId == m.Id).Select(r => $"{r.Id}@{r.Port}").Order(StringComparer.Ordinal)),
                Slots = string.Join(' ', m.Slots.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(r => r.Contains('-', StringComparison.Ordinal) ? r : $"{r}-{r}")),
            })
            .OrderBy(g => g.Master.Id, StringComparer.Ordinal)
            .ToList();

        using var json = JsonDocument.Parse(stdout);
        var groups = json.RootElement.GetProperty("groups").EnumerateArray().ToList();
        var actual = groups
            .Select(g => new
            {
                Master = (g.GetProperty("master").GetProperty("id").GetString()!, g.GetProperty("master").GetProperty("port").GetInt32()),
                Replicas = string.Join(',', g.GetProperty("replicas").EnumerateArray().Select(r => $"{r.GetProperty("id").GetString()}@{r.GetProperty("port").GetInt32()}").Order(StringComparer.Ordinal)),
                Slots = string.Join(' ', g.GetProperty("slots").EnumerateArray().Select(r => $"{r[0].GetInt32()}-{r[1].GetInt32()}")),
            })
            .OrderBy(g => g.Master.Item1, StringComparer.Ordinal)
            .ToList();

        Assert.Equal(3, groups.Count);
        Assert.Equal(expected, actual);
        Assert.All(groups, g => Assert.True(g.GetProperty("confirmed").GetBoolean()));
        Assert.All(groups, g => Assert.Equal("127.0.0.1", g.GetProperty("master").GetProperty("host").GetString()));
        Assert.Equal(groups.Count, groups.Select(g => g.GetProperty("id").GetInt32()).Distinct().Count());
    }
}
