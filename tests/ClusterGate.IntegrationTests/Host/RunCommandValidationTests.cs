using ClusterGate.Cli;
using Xunit;

namespace ClusterGate.IntegrationTests.Host;

/// <summary><c>clustergate run</c> rejects bad settings before starting anything, listing every problem.</summary>
[Collection(HostEnvironmentCollection.Name)]
public sealed class RunCommandValidationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("clustergate-run-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task RunAsync_SeveralBadOptions_ExitCode2AndEveryProblemOnItsOwnLine()
    {
        var (exitCode, stdout, stderr) = await RunAsync(
            "run",
            "--seed", "127.0.0.1:7000",
            "--seed", "no-port",
            "--seed", "host:99999",
            "--bind", "not-an-ip",
            "--announce-host", "",
            "--shard-base-port", "70000",
            "--admin-port", "-1",
            "--hold-timeout", "0s",
            "--log-level", "chatty");

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        var lines = Lines(stderr);
        Assert.All(lines, l => Assert.StartsWith("clustergate: ", l, StringComparison.Ordinal));
        AssertHasLine(lines, "--seed", "'no-port'");
        AssertHasLine(lines, "--seed", "'host:99999'");
        AssertHasLine(lines, "--bind", "'not-an-ip'");
        AssertHasLine(lines, "--announce-host", "''");
        AssertHasLine(lines, "--shard-base-port", "70000");
        AssertHasLine(lines, "--admin-port", "-1");
        AssertHasLine(lines, "--hold-timeout", "greater than zero");
        AssertHasLine(lines, "--log-level", "'chatty'");
        Assert.Equal(8, lines.Count);
    }

    [Fact]
    public async Task RunAsync_BadConfigFile_ExitCode2AndEveryProblemInTheFile()
    {
        var file = Path.Combine(_directory, "bad.json");
        await File.WriteAllTextAsync(file, """
            {
              "Seeds": [ "127.0.0.1:7000" ],
              "AdminPort": 7105,
              "ShardBasePort": "seventy",
              "RewriteRedirects": "maybe",
              "PortPins": [ { "Port": 7105, "Slot": 0 }, { "Port": 7105, "Slot": 16384 }, { "Port": 7106 } ],
              "AddressMap": { "10.0.0.5:6379": "127.0.0.1:7000", "nohost": "127.0.0.1:7001" },
              "Topology": { "RefreshInterval": "-1s", "FastPolInterval": "50ms", "CommandTimeout": "20" },
              "User": "ops",
              "Bogus": true
            }
            """);

        var (exitCode, _, stderr) = await RunAsync("run", "--config", file);

        Assert.Equal(2, exitCode);
        var lines = Lines(stderr);
        AssertHasLine(lines, "ShardBasePort", "'seventy'");
        AssertHasLine(lines, "RewriteRedirects", "'maybe'");
        AssertHasLine(lines, "PortPins:0", "admin port");
        AssertHasLine(lines, "PortPins:1", "Port 7105 is pinned more than once");
        AssertHasLine(lines, "PortPins:1", "Slot 16384");
        AssertHasLine(lines, "PortPins:2", "needs both Port and Slot");
        AssertHasLine(lines, "AddressMap", "'nohost'");
        AssertHasLine(lines, "Topology:RefreshInterval", "greater than zero");
        AssertHasLine(lines, "Topology:FastPolInterval", "unknown setting");
        AssertHasLine(lines, "Topology:CommandTimeout", "'20'");
        AssertHasLine(lines, "User", "needs a password");
        AssertHasLine(lines, "Bogus", "unknown setting");
        Assert.DoesNotContain(lines, l => l.Contains("10.0.0.5", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_MissingConfigFileAndNoSeed_ExitCode2AndBothProblems()
    {
        var (exitCode, _, stderr) = await RunAsync("run", "--config", Path.Combine(_directory, "absent.json"));

        Assert.Equal(2, exitCode);
        var lines = Lines(stderr);
        AssertHasLine(lines, "--config", "file not found");
        AssertHasLine(lines, "--seed", "at least one seed");
    }

    [Fact]
    public async Task RunAsync_MalformedJson_ExitCode2NamingTheFile()
    {
        var file = Path.Combine(_directory, "broken.json");
        await File.WriteAllTextAsync(file, """{ "Seeds": [ "127.0.0.1:7000" """);

        var (exitCode, _, stderr) = await RunAsync("run", "--config", file);

        Assert.Equal(2, exitCode);
        AssertHasLine(Lines(stderr), file, "not valid JSON");
    }

    [Fact]
    public async Task RunAsync_RouterPortOnAdminPortAndBadConnectionCount_ExitCode2AndBothProblems()
    {
        var file = Path.Combine(_directory, "router.json");
        await File.WriteAllTextAsync(file, """{ "Seeds": [ "127.0.0.1:7000" ], "RouterConnectionsPerMaster": 0 }""");

        var (exitCode, _, stderr) = await RunAsync("run", "--config", file, "--router-port", "7180", "--admin-port", "7180");

        Assert.Equal(2, exitCode);
        var lines = Lines(stderr);
        AssertHasLine(lines, "--router-port", "also the admin port");
        AssertHasLine(lines, "RouterConnectionsPerMaster", "not between 1 and 64");
    }

    [Fact]
    public async Task RunAsync_NegativeIoThreads_ExitCode2NamingTheOption()
    {
        var (exitCode, _, stderr) = await RunAsync("run", "--seed", "127.0.0.1:7000", "--io-threads", "-1");

        Assert.Equal(2, exitCode);
        AssertHasLine(Lines(stderr), "--io-threads", "not between 0 (automatic) and 256");
    }

    [Fact]
    public async Task RunAsync_BadLogLevelFor_ExitCode2NamingTheOptionAndSource()
    {
        var (exitCode, _, stderr) = await RunAsync(
            "run", "--seed", "127.0.0.1:7000", "--log-level-for", "TopologyMonitor=Loud", "--log-level-for", "ShardSession", "--log-level-for", "=Debug");

        Assert.Equal(2, exitCode);
        var lines = Lines(stderr);
        AssertHasLine(lines, "--log-level-for", "'Loud' for source 'TopologyMonitor'");
        AssertHasLine(lines, "--log-level-for 'ShardSession'", "expected SOURCE=LEVEL");
        AssertHasLine(lines, "--log-level-for '=Debug'", "expected SOURCE=LEVEL");
        Assert.Equal(3, lines.Count);
    }

    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(0, 2, 1)]
    [InlineData(0, 8, 4)]
    [InlineData(3, 2, 3)]
    public void EffectiveIoThreads_AutomaticIsHalfTheCoresAtLeastOne(int configured, int processors, int expected)
    {
        var options = new ClusterGate.Configuration.GatewayOptions { IoThreads = configured };

        Assert.Equal(expected, options.EffectiveIoThreads(processors));
    }

    [Fact]
    public async Task RunAsync_UnknownOption_ExitCode2()
    {
        var (exitCode, _, stderr) = await RunAsync("run", "--seed", "127.0.0.1:7000", "--no-such-option", "7200");

        Assert.Equal(2, exitCode);
        Assert.Contains("--no-such-option", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NoSeedAnswers_ExitCode1AndOneLineNamingTheSeed()
    {
        var port = CliProcess.UnusedPort();

        var (exitCode, _, stderr) = await RunAsync("run", "--seed", $"127.0.0.1:{port}", "--bind", "127.0.0.1", "--log-level", "Error");

        Assert.Equal(1, exitCode);
        var line = Assert.Single(Lines(stderr));
        Assert.StartsWith("clustergate: no seed answered", line, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", line, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ClusterGateCli.RunAsync(args, output, error).WaitAsync(TimeSpan.FromSeconds(30));
        return (exitCode, output.ToString(), error.ToString());
    }

    private static List<string> Lines(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static void AssertHasLine(List<string> lines, string subject, string detail) =>
        Assert.True(
            lines.Exists(l => l.Contains(subject, StringComparison.Ordinal) && l.Contains(detail, StringComparison.Ordinal)),
            $"no line with '{subject}' and '{detail}' in:\n{string.Join('\n', lines)}");
}
