namespace ClusterGate.Core.Observability;

/// <summary>
/// A count bumped on the relay's hot path by several threads: one cache line per stripe, picked by thread, so an
/// increment is an uncontended interlocked add (a few nanoseconds) and never bounces a line between cores. Read
/// rarely (a metrics scrape), by summing the stripes.
/// </summary>
public sealed class StripedCounter
{
    private const int Stripes = 16;
    private const int Spacing = 8; // 8 longs = 64 bytes: one cache line per stripe.
    private readonly long[] _cells = new long[Stripes * Spacing];

    public void Increment() => Interlocked.Increment(ref _cells[(Environment.CurrentManagedThreadId & (Stripes - 1)) * Spacing]);

    public void Add(long value) => Interlocked.Add(ref _cells[(Environment.CurrentManagedThreadId & (Stripes - 1)) * Spacing], value);

    public long Value
    {
        get
        {
            long sum = 0;
            for (var i = 0; i < Stripes; i++)
            {
                sum += Volatile.Read(ref _cells[i * Spacing]);
            }

            return sum;
        }
    }
}
