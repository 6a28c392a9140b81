using ClusterGate.Core.Observability;
using Xunit;

namespace ClusterGate.Core.UnitTests.Observability;

public sealed class StripedCounterTests
{
    [Fact]
    public async Task Increment_FromManyThreadsAtOnce_EveryIncrementCounted()
    {
        var counter = new StripedCounter();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 100_000; i++)
            {
                counter.Increment();
            }
        })));

        Assert.Equal(800_000, counter.Value);
    }
}
