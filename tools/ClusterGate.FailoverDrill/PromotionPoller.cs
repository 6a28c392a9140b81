using System.Diagnostics;

namespace ClusterGate.FailoverDrill;

/// <summary>
/// Polls CLUSTER NODES on a surviving master every few milliseconds after the crash and records when the
/// crashed master is first flagged (fail? or fail) and when another healthy master owns the drill's slot.
/// </summary>
internal sealed class PromotionPoller
{
    private readonly string _survivor;
    private readonly string _crashedId;
    private readonly int _slot;
    private readonly TimeSpan _interval;
    private Thread? _thread;
    private volatile bool _stop;

    public PromotionPoller(string survivor, string crashedId, int slot, TimeSpan interval)
    {
        _survivor = survivor;
        _crashedId = crashedId;
        _slot = slot;
        _interval = interval;
    }

    private long _promotedAt;

    public long PfailAt { get; private set; }

    /// <summary>Read while the poller runs.</summary>
    public long PromotedAt { get => Volatile.Read(ref _promotedAt); private set => Volatile.Write(ref _promotedAt, value); }
    public string? NewMaster { get; private set; }
    public int Polls { get; private set; }

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "promotion-poller" };
        _thread.Start();
    }

    public void Stop()
    {
        _stop = true;
        _thread?.Join();
    }

    private void Run()
    {
        RespConnection? c = null;
        try
        {
            while (!_stop && PromotedAt == 0)
            {
                try
                {
                    c ??= RespConnection.Connect(_survivor, TimeSpan.FromSeconds(1));
                    var nodes = ClusterView.Fetch(c);
                    var now = Stopwatch.GetTimestamp();
                    Polls++;
                    if (PfailAt == 0 && nodes.FirstOrDefault(n => n.Id == _crashedId) is { IsFailed: true })
                    {
                        PfailAt = now;
                    }

                    var owner = nodes.FirstOrDefault(n => n.Id != _crashedId && n.IsMaster && !n.IsFailed && n.OwnsSlot(_slot));
                    if (owner is not null)
                    {
                        PromotedAt = now;
                        NewMaster = owner.Address;
                    }
                }
                catch (Exception e) when (e is RespConnectionException or InvalidOperationException)
                {
                    c?.Dispose();
                    c = null;
                }

                Thread.Sleep(_interval);
            }
        }
        finally
        {
            c?.Dispose();
        }
    }
}
