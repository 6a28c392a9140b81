namespace ClusterGate.Core.Frontends.Router;

/// <summary>An auto-reset signal for one waiter: Set() many times, the waiter wakes once and rechecks.</summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _source = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Set() => Volatile.Read(ref _source).TrySetResult();

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        var source = Volatile.Read(ref _source);
        await source.Task.WaitAsync(cancellationToken);
        Interlocked.CompareExchange(ref _source, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), source);
    }
}
