using ClusterGate.Configuration;
using Xunit;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>Layering of the JSON file, <c>CLUSTERGATE__*</c> environment variables and command-line options.</summary>
[Collection(HostEnvironmentCollection.Name)]
public sealed class GatewayConfigurationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("clustergate-config-").FullName;
    private readonly List<string> _variables = [];

    public void Dispose()
    {
        foreach (var name in _variables)
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Build_FileEnvironmentAndCommandLine_LaterLayerWinsPerKey()
    {
        var file = await WriteConfigAsync("""
            {
              "Seeds": [ "10.0.0.1:7000", "10.0.0.2:7000" ],
              "ShardBasePort": 7200,
              "AdminPort": 7280,
              "HoldTimeout": "30s",
              "Topology": { "RefreshInterval": "2s", "FastPollInterval": "50ms" }
            }
            """);
        SetEnvironment("CLUSTERGATE__ShardBasePort", "7300");
        SetEnvironment("CLUSTERGATE__Topology__RefreshInterval", "500ms");
        SetEnvironment("CLUSTERGATE__HoldTimeout", "40s");

        var options = Load(file, new() { ["HoldTimeout"] = "5s", ["Seeds"] = "127.0.0.1:7000" });

        Assert.Equal(7300, options.ShardBasePort);                      // environment over file
        Assert.Equal(7280, options.AdminPort);                          // file only
        Assert.Equal(TimeSpan.FromSeconds(5), options.HoldTimeout);     // command line over environment over file
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.Topology.RefreshInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.Topology.FastPollInterval);
        Assert.Equal(["127.0.0.1:7000"], options.Seeds);                // command-line seeds replace the file's list
    }

    [Fact]
    public async Task Build_NoCommandLine_EnvironmentOverridesFile()
    {
        var file = await WriteConfigAsync("""{ "Seeds": [ "10.0.0.1:7000" ], "ShardBasePort": 7200, "RewriteRedirects": true }""");
        SetEnvironment("CLUSTERGATE__ShardBasePort", "7300");
        SetEnvironment("CLUSTERGATE__RewriteRedirects", "false");

        var options = Load(file, []);

        Assert.Equal(7300, options.ShardBasePort);
        Assert.False(options.RewriteRedirects);
        Assert.Equal(["10.0.0.1:7000"], options.Seeds);
    }

    [Fact]
    public void Build_SeedsAsOneEnvironmentValue_SplitOnCommas()
    {
        SetEnvironment("CLUSTERGATE__Seeds", "127.0.0.1:7000, 127.0.0.1:7001");

        var options = Load(null, []);

        Assert.Equal(["127.0.0.1:7000", "127.0.0.1:7001"], options.Seeds);
    }

    [Fact]
    public async Task Bind_AddressMapAndPins_ReadWithColonsInKeys()
    {
        var file = await WriteConfigAsync("""
            {
              "Seeds": [ "127.0.0.1:7000" ],
              "AddressMap": { "10.0.0.5:6379": "127.0.0.1:7000", "[fd00::5]:6379": "127.0.0.1:7001" },
              "PortPins": [ { "Port": 7100, "Slot": 0 }, { "Port": 7101, "Slot": 5461 } ]
            }
            """);

        var options = Load(file, []);

        Assert.Equal("127.0.0.1:7000", options.AddressMap["10.0.0.5:6379"]);
        Assert.Equal("127.0.0.1:7001", options.AddressMap["[fd00::5]:6379"]);
        Assert.Equal([(7100, 0), (7101, 5461)], options.PortPins.Select(p => (p.Port, p.Slot)));
        var monitor = options.ToMonitorOptions();
        Assert.Equal(2, monitor.AddressMap.Count);
        Assert.Equal(2, options.ToShardPortOptions().Pins.Count);
    }

    [Fact]
    public void Build_SampleFile_ValidWithEveryKeyRead()
    {
        var sample = Path.Combine(AppContext.BaseDirectory, "clustergate.sample.json");

        var options = Load(sample, []);

        Assert.Equal(["127.0.0.1:7000", "127.0.0.1:7001"], options.Seeds);
        Assert.Equal(7180, options.AdminPort);
        Assert.Equal(3, options.PortPins.Count);
        Assert.Single(options.AddressMap);
        Assert.Null(options.User);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.Topology.FastPollInterval);
    }

    [Fact]
    public async Task Bind_LogLevelsFromEveryLayer_MergedPerSource()
    {
        var file = await WriteConfigAsync("""
            {
              "Seeds": [ "127.0.0.1:7000" ],
              "LogLevels": { "TopologyMonitor": "Debug", "ShardSession": "Warning", "ClusterGate.Core.Topology": "Error" }
            }
            """);
        SetEnvironment("CLUSTERGATE__LogLevels__ShardSession", "Error");
        SetEnvironment("CLUSTERGATE__LogLevels__Microsoft.AspNetCore", "Information");

        var options = Load(file, new() { ["LogLevels:RouterSession"] = "Verbose" });

        Assert.Equal("Debug", options.LogLevels["topologymonitor"]);                // file; source names ignore case
        Assert.Equal("Error", options.LogLevels["ShardSession"]);                   // environment over file
        Assert.Equal("Error", options.LogLevels["ClusterGate.Core.Topology"]);      // a namespace, dots kept
        Assert.Equal("Information", options.LogLevels["Microsoft.AspNetCore"]);
        Assert.Equal("Verbose", options.LogLevels["RouterSession"]);                // command line
        Assert.Equal(5, options.LogLevels.Count);
    }

    [Fact]
    public async Task Bind_LogLevelsBadLevelOrNested_OneProblemEachNamingTheSetting()
    {
        var file = await WriteConfigAsync("""
            { "Seeds": [ "127.0.0.1:7000" ], "LogLevels": { "TopologyMonitor": "chatty", "ShardSession": { "Level": "Debug" } } }
            """);

        var problems = new List<string>();
        var options = GatewayConfiguration.Bind(GatewayConfiguration.Build(file, [], problems), problems);
        problems.AddRange(GatewayOptionsValidator.Collect(options));

        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("LogLevels (--log-level-for): 'chatty' for source 'TopologyMonitor'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("LogLevels:ShardSession: not a level name", StringComparison.Ordinal));
    }

    [Fact]
    public void EffectiveAnnounceHost_WildcardBind_Loopback()
    {
        Assert.Equal("127.0.0.1", new GatewayOptions { Bind = "0.0.0.0" }.EffectiveAnnounceHost);
        Assert.Equal("127.0.0.1", new GatewayOptions { Bind = "::" }.EffectiveAnnounceHost);
        Assert.Equal("10.1.2.3", new GatewayOptions { Bind = "10.1.2.3" }.EffectiveAnnounceHost);
        Assert.Equal("gw.example", new GatewayOptions { Bind = "0.0.0.0", AnnounceHost = "gw.example" }.EffectiveAnnounceHost);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("20s", 20_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("00:00:20", 20_000)]
    public void TryParse_Duration_Milliseconds(string text, double milliseconds)
    {
        Assert.True(DurationParser.TryParse(text, out var value));
        Assert.Equal(milliseconds, value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("20")]
    [InlineData("")]
    [InlineData("fast")]
    [InlineData("10 parsecs")]
    public void TryParse_NoUnitOrGarbage_False(string text) => Assert.False(DurationParser.TryParse(text, out _));

    private static GatewayOptions Load(string? file, Dictionary<string, string?> commandLine)
    {
        var problems = new List<string>();
        var configuration = GatewayConfiguration.Build(file, commandLine, problems);
        var options = GatewayConfiguration.Bind(configuration, problems);
        problems.AddRange(GatewayOptionsValidator.Collect(options));
        Assert.Empty(problems);
        return options;
    }

    private async Task<string> WriteConfigAsync(string json)
    {
        var file = Path.Combine(_directory, $"{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, json);
        return file;
    }

    private void SetEnvironment(string name, string value)
    {
        _variables.Add(name);
        Environment.SetEnvironmentVariable(name, value);
    }
}
