using System.Net;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Topology;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace ClusterGate.Admin;

/// <summary>
/// The admin HTTP port: a Kestrel app on exactly one endpoint. Built from the empty builder so that
/// no <c>ASPNETCORE_URLS</c>, appsettings file or default URL can add a listener.
/// </summary>
internal sealed class AdminServer : IAsyncDisposable
{
    private const string Json = "application/json";
    private readonly WebApplication _app;

    private AdminServer(WebApplication app) => _app = app;

    public static AdminServer Create(
        IPAddress address,
        int port,
        string transport,
        TopologyMonitor monitor,
        Func<IReadOnlyList<ShardPortBinding>> bindings,
        Func<IReadOnlyDictionary<int, (int Port, string Reason)>> unbound,
        Func<IReadOnlyList<Observability.FailoverRecord>> failovers,
        MeterProvider metrics,
        ILoggerFactory loggerFactory)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "ClusterGate.Admin" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, port);
        });
        builder.Services.AddRoutingCore();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));

        // The gateway owns signals and shutdown order; the default console lifetime would stop the app on its own.
        builder.Services.AddSingleton<IHostLifetime, PassiveHostLifetime>();

        var app = builder.Build();
        var dashboard = Dashboard();
        app.MapGet("/", () => Results.Bytes(dashboard, "text/html; charset=utf-8"));
        app.MapGet("/healthz", () => Results.Text("ok\n", "text/plain"));
        app.MapGet("/readyz", () =>
        {
            var (ready, body) = AdminJson.Ready(monitor.Current, unbound());
            return Results.Text(body, Json, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapGet("/health", () =>
        {
            var (healthy, body) = AdminJson.Health(monitor.Current, transport);
            return Results.Text(body, Json, statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapGet("/topology", () => Results.Bytes(AdminJson.Topology(monitor.Current), Json));
        app.MapGet("/shards", () => Results.Bytes(AdminJson.Shards(bindings(), monitor.Current), Json));
        app.MapGet("/events", () => Results.Bytes(AdminJson.Events(monitor.RecentEvents), Json));
        app.MapGet("/failovers", () => Results.Bytes(AdminJson.Failovers(failovers(), monitor.Current), Json));
        app.MapPrometheusScrapingEndpoint("/metrics", metrics, configureBranchedPipeline: null, optionsName: null);
        return new AdminServer(app);
    }

    /// <summary>The live dashboard page (groups, clients, failover timeline), polling the JSON endpoints and /metrics.</summary>
    private static byte[] Dashboard()
    {
        using var stream = typeof(AdminServer).Assembly.GetManifestResourceStream("ClusterGate.Dashboard.index.html")
            ?? throw new InvalidOperationException("the dashboard page is not embedded in the assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Binds the port; throws <see cref="IOException"/> when it is taken.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => _app.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => _app.StopAsync(cancellationToken);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private sealed class PassiveHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
