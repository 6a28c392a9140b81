using System.Globalization;
using System.Text.RegularExpressions;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using ClusterGate.IntegrationTests.ShardPorts;
using Microsoft.Playwright;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// The admin port's dashboard in a real browser (Debian's Chromium, headless, driven by Playwright): three groups
/// appear; a master crashes; the promoted master and the failover events appear without a reload.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class DashboardTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(180);

    /// <summary>Set to a path to keep the screenshot taken during the failover (the README's one is made this way).</summary>
    private const string ScreenshotVariable = "CLUSTERGATE_DASHBOARD_SCREENSHOT";

    [Fact]
    public async Task MasterCrashes_DashboardShowsTheNewMasterAndTheFailoverWithoutReload()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var chromium = ProcessRunner.FindOnPath("chromium") ?? throw new InvalidOperationException("chromium is not installed (tools/test.sh installs it)");
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = TimeSpan.FromMilliseconds(2000) }, cts.Token);
        var adminPort = CliProcess.UnusedPort();
        await using var gateway = await GatewayProcess.StartAsync(
            cluster, descriptorLimit: 4096, ["--admin-port", adminPort.ToString(CultureInfo.InvariantCulture), "--log-level", "Warning"], cts.Token);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await page.GotoAsync($"http://127.0.0.1:{adminPort}/");

        var groups = page.Locator("#groups tbody tr");
        await Assertions.Expect(groups).ToHaveCountAsync(3, new LocatorAssertionsToHaveCountOptions { Timeout = 15_000 });
        await Assertions.Expect(page.Locator("#ready")).ToHaveTextAsync("ready");

        // Traffic on the first shard port and the router: that port's group shows its ops/s and latency, live.
        using var traffic = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        var writers = new[] { gateway.ShardBasePort, gateway.RouterPort }.Select(port => WriteUntilCancelledAsync(port, traffic.Token)).ToArray();
        var busy = page.Locator($"#groups tbody tr:has(td:nth-child(2):text-is('{gateway.ShardBasePort}'))");
        await Assertions.Expect(busy.Locator("td.ops")).ToHaveTextAsync(new Regex(@"^[1-9][0-9]* · [0-9]+$"), new LocatorAssertionsToHaveTextOptions { Timeout = 15_000 });
        await Assertions.Expect(busy.Locator("td.latency")).ToHaveTextAsync(new Regex(@"^[0-9.]+ ms$"), new LocatorAssertionsToHaveTextOptions { Timeout = 15_000 });

        var masterPort = (await cluster.MasterPortsAsync(cts.Token))[0];
        var group = page.Locator($"#groups tbody tr:has(td.master:text-is('127.0.0.1:{masterPort}'))");
        await Assertions.Expect(group).ToHaveCountAsync(1);
        var groupId = await group.GetAttributeAsync("data-group");
        await cluster.SegfaultAsync(masterPort, cts.Token);
        var promoted = await cluster.WaitForPromotionAsync(masterPort, TimeSpan.FromSeconds(30), cts.Token);
        output.WriteLine($"master {masterPort} of group {groupId} crashed, {promoted.Port} promoted");

        // Same page, no reload: the promoted master in that group's row, the failover in the timeline.
        var row = page.Locator($"#groups tbody tr[data-group='{groupId}'] td.master");
        await Assertions.Expect(row).ToHaveTextAsync($"127.0.0.1:{promoted.Port}", new LocatorAssertionsToHaveTextOptions { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#events tbody tr[data-kind='MasterChanged']").First).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 10_000 });
        await Assertions.Expect(page.Locator("#failovers")).ToHaveTextAsync("1", new LocatorAssertionsToHaveTextOptions { Timeout = 10_000 });

        // The failover's phases, measured: promotion, and traffic resumed (the router's writer had a command held).
        var failover = page.Locator($"#failovers-table tbody tr[data-group='{groupId}']");
        await Assertions.Expect(failover.Locator("td.promotion")).ToHaveTextAsync(new Regex(@"^[0-9.]+ ms$"), new LocatorAssertionsToHaveTextOptions { Timeout = 10_000 });
        await Assertions.Expect(failover.Locator("td.resumed")).ToHaveTextAsync(new Regex(@"^[0-9.]+ ms$"), new LocatorAssertionsToHaveTextOptions { Timeout = 10_000 });

        var screenshot = Environment.GetEnvironmentVariable(ScreenshotVariable) is { Length: > 0 } path
            ? path
            : Path.Combine(Path.GetTempPath(), $"clustergate-dashboard-{Guid.NewGuid():N}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"screenshot: {screenshot}");
        if (Environment.GetEnvironmentVariable(ScreenshotVariable) is not { Length: > 0 })
        {
            File.Delete(screenshot);
        }

        await traffic.CancelAsync();
        Assert.All(await Task.WhenAll(writers), written => Assert.True(written > 0));
        Assert.False(gateway.HasExited, gateway.Output);
    }

    /// <summary>SETs one after another until cancelled (held through the failover); how many were answered (a shard port answers MOVED for another group's key).</summary>
    private static async Task<int> WriteUntilCancelledAsync(int port, CancellationToken ct)
    {
        var written = 0;
        try
        {
            await using var client = await RespClient.ConnectAsync(port, ct);
            while (!ct.IsCancellationRequested)
            {
                await client.CallAsync(TimeSpan.FromSeconds(30), ct, "SET", $"dashboard:{written % 100}", "v");
                written++;
            }
        }
        catch (OperationCanceledException)
        {
        }

        return written;
    }
}
