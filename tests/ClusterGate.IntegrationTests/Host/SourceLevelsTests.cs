using ClusterGate.Hosting;
using Microsoft.Extensions.Logging;
using Serilog.Events;
using Xunit;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>Which level a logger category gets from <c>--log-level</c> and <c>LogLevels</c>.</summary>
public sealed class SourceLevelsTests
{
    private static readonly Dictionary<string, string> Overrides = new(StringComparer.OrdinalIgnoreCase)
    {
        ["TopologyMonitor"] = "Debug",
        ["ShardSession"] = "Warning",
        ["ClusterGate.Core"] = "Error",
        ["ClusterGate.Core.Backends"] = "Verbose",
    };

    [Theory]
    [InlineData("ClusterGate.Core.Topology.TopologyMonitor", LogEventLevel.Debug)]      // short name over the namespace
    [InlineData("ClusterGate.ShardSession", LogEventLevel.Warning)]                     // a fixed category, by its short name
    [InlineData("ClusterGate.Core.Frontends.Router.RouterFrontend", LogEventLevel.Error)] // namespace prefix
    [InlineData("ClusterGate.Core.Backends.Links.MasterLink", LogEventLevel.Verbose)]   // the longest prefix wins
    [InlineData("ClusterGate.Core2.Thing", LogEventLevel.Information)]                  // a prefix ends at a dot
    [InlineData("ClusterGate.Transport", LogEventLevel.Information)]                    // not named: --log-level
    [InlineData("Microsoft.AspNetCore.Hosting.Diagnostics", LogEventLevel.Warning)]     // Kestrel: warnings unless named
    public void For_Category_LevelOfTheMostSpecificName(string category, LogEventLevel expected)
    {
        var levels = new SourceLevels(LogEventLevel.Information, Overrides);

        Assert.Equal(expected, levels.For(category));
        Assert.Equal(LogEventLevel.Verbose, levels.Lowest);
    }

    [Fact]
    public void For_MicrosoftNamed_UserLevelOverKestrelDefault()
    {
        var levels = new SourceLevels(LogEventLevel.Information, new Dictionary<string, string> { ["Microsoft.AspNetCore"] = "Debug" });

        Assert.Equal(LogEventLevel.Debug, levels.For("Microsoft.AspNetCore.Server.Kestrel"));
        Assert.Equal(LogEventLevel.Warning, levels.For("Microsoft.Extensions.Hosting.Internal.Host"));
    }

    [Fact]
    public void CreateLogger_SourceAboveLowest_HeldToItsOwnLevel()
    {
        using var factory = HostLogging.CreateLoggerFactory("Information", new Dictionary<string, string> { ["TopologyMonitor"] = "Debug", ["ShardSession"] = "Warning" });

        var monitor = factory.CreateLogger("ClusterGate.Core.Topology.TopologyMonitor");
        var shard = factory.CreateLogger("ClusterGate.ShardSession");
        var other = factory.CreateLogger("ClusterGate.Router");

        Assert.True(monitor.IsEnabled(LogLevel.Debug));
        Assert.False(shard.IsEnabled(LogLevel.Information));
        Assert.True(shard.IsEnabled(LogLevel.Warning));
        Assert.False(other.IsEnabled(LogLevel.Debug));
        Assert.True(other.IsEnabled(LogLevel.Information));
    }
}
