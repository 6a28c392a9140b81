using System.Net;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// Stands in for a server the gateway posts to (Seq, an OTLP collector), none of which runs here: an HTTP listener on a
/// free loopback port whose every request goes to a handler until it is stopped.
/// </summary>
internal sealed class LocalHttpReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;

    public LocalHttpReceiver(Func<HttpListenerContext, Task> handle)
    {
        Port = CliProcess.UnusedPort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(() => ServeAsync(handle), CancellationToken.None);
    }

    public int Port { get; }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _serving;
        _listener.Close();
    }

    private async Task ServeAsync(Func<HttpListenerContext, Task> handle)
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            await handle(context);
        }
    }
}
