using System.Diagnostics;
using System.Diagnostics.Metrics;
using ClusterGate.Core.Observability;
using Xunit;

namespace ClusterGate.Core.UnitTests.Observability;

public sealed class CommandTimingsTests
{
    [Fact]
    public void Record_CommandOfOneGroup_TaggedByFrontendAndGroup_CommandOfNoneByFrontendOnly()
    {
        using var meter = new Meter("CommandTimingsTests." + Guid.NewGuid());
        var stats = new FrontendStats("router", new CommandTimings(meter));
        var recorded = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            recorded.Add((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.Start();

        // Read a second ago; at the backend from 100 ms to 200 ms after.
        var second = Stopwatch.Frequency;
        var start = Stopwatch.GetTimestamp() - second;
        stats.Record(start, start + (second / 10), start + (second / 5), stats.Group(2));
        stats.Record(start, 0, 0);

        Assert.Equal(3, recorded.Count);
        var ofGroup = recorded.Where(r => r.Tags.TryGetValue("group", out var g) && (string?)g == "2").ToList();
        Assert.Equal(["clustergate.command.duration", "clustergate.command.gateway_duration"], ofGroup.Select(r => r.Instrument).Order());
        Assert.All(recorded, r => Assert.Equal("router", r.Tags["frontend"]));
        var ungrouped = Assert.Single(recorded, r => !r.Tags.ContainsKey("group"));
        Assert.Equal("clustergate.command.duration", ungrouped.Instrument);

        // Gateway-added time is end to end less the 100 ms the backend had the command.
        var endToEnd = ofGroup.Single(r => r.Instrument == "clustergate.command.duration").Value;
        var added = ofGroup.Single(r => r.Instrument == "clustergate.command.gateway_duration").Value;
        Assert.Equal(endToEnd - 0.1, added, 3);
    }

    [Fact]
    public void Group_SameIdSameCounts_EveryGroupListed()
    {
        var stats = new FrontendStats("shard");
        stats.Group(0).Commands.Increment();
        stats.Group(0).Commands.Increment();
        stats.Group(5).Commands.Add(3);

        stats.Group(5).Received(CommandClass.Read).Increment();
        stats.Commands(CommandClass.Write).Add(4);

        Assert.Same(stats.Group(0), stats.Group(0));
        Assert.Equal([(0, 2L), (5, 4L)], stats.Groups.Select(g => (g.Id, g.CommandCount)).OrderBy(g => g.Id));
        Assert.Equal(new KeyValuePair<string, object?>("group", "5"), stats.Group(5).Tag);

        // By class: the frontend's own counts and what its groups received (not what the router wrote to them).
        Assert.Equal([(CommandClass.Write, 4L), (CommandClass.Read, 1L), (CommandClass.Other, 0L)], stats.CommandsByClass);
        Assert.Equal(5, stats.CommandCount);
    }
}
