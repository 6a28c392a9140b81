using System.Diagnostics;
using System.Globalization;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// StackExchange.Redis 3.x with its default settings (it negotiates RESP3 with HELLO 3, sets its client info and
/// subscribes to its own <c>__Booksleeve_MasterChanged</c> channel) against one endpoint that must behave as a
/// standalone Redis: transactions, pub/sub, blocking pops, streams, scripts and SCAN, each with no error event and no
/// error in the connect log. The expectations are Redis's own: <see cref="StandaloneStackExchangeBatteryTests"/> runs
/// the same tests against a plain redis-server, <see cref="RouterStackExchangeBatteryTests"/> against the router.
/// </summary>
public abstract class StackExchangeBattery(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StepBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ConnectBound = TimeSpan.FromSeconds(20);

    /// <summary>How long a blocked command is left alone before another client wakes it, to show it really waited.</summary>
    private static readonly TimeSpan BlockedFor = TimeSpan.FromMilliseconds(300);

    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    protected ITestOutputHelper Output { get; } = output;

    /// <summary>The port of the endpoint under test, started on first use.</summary>
    private protected abstract Task<int> PortAsync(CancellationToken ct);

    /// <summary>Checks that only this endpoint can make of the keys a SCAN returned (the router: keys of every group).</summary>
    private protected virtual void CheckScannedKeys(IReadOnlyList<string> keys)
    {
    }

    [Fact]
    public async Task Connect_DefaultSettings_NegotiatesResp3AsStandaloneWithNoError()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var client = await ConnectAsync("client", cts.Token);
        var server = client.Server;
        Output.WriteLine($"server {server.EndPoint}: {server.ServerType} {server.Version}, {server.Protocol}, connected {server.IsConnected}");

        Assert.True(server.IsConnected);
        Assert.Equal(RedisProtocol.Resp3, server.Protocol);
        Assert.Equal(ServerType.Standalone, server.ServerType);
        Assert.Equal("PONG", (string?)await client.Database.ExecuteAsync("PING").WaitAsync(StepBound, cts.Token));
        client.AssertNoErrors();
    }

    [Fact]
    public async Task Transaction_MultiExecOnKeysOfOneHashTag_EveryResultAndWriteApplied()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var client = await ConnectAsync("client", cts.Token);
        var db = client.Database;
        var tag = Tag("multi");

        var transaction = db.CreateTransaction();
        var set = transaction.StringSetAsync(tag + "a", "1");
        var increment = transaction.StringIncrementAsync(tag + "b", 5);
        var push = transaction.ListRightPushAsync(tag + "list", ["x", "y"]);
        var get = transaction.StringGetAsync(tag + "a");
        Assert.True(await transaction.ExecuteAsync().WaitAsync(StepBound, cts.Token), "EXEC of a transaction without conditions was not committed");

        Assert.True(await set);
        Assert.Equal(5, await increment);
        Assert.Equal(2, await push);
        Assert.Equal("1", (string?)await get);
        Assert.Equal("5", (string?)await db.StringGetAsync(tag + "b"));
        Assert.Equal(new string?[] { "x", "y" }, (await db.ListRangeAsync(tag + "list")).Select(v => (string?)v));
        client.AssertNoErrors();
    }

    [Fact]
    public async Task Transaction_WatchedKeyChangedByAnotherClient_ExecuteFalseAndNothingWritten()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var client = await ConnectAsync("client", cts.Token);
        await using var other = await ConnectAsync("other", cts.Token);
        var db = client.Database;
        var tag = Tag("watch");
        var watched = tag + "watched";
        var written = tag + "written";
        Assert.True(await db.StringSetAsync(watched, "before"));

        // StackExchange.Redis sends WATCH and its condition's check with the transaction (one round trip, so no
        // client can get between them): here the other client changes the key after the transaction was built.
        var transaction = db.CreateTransaction();
        var condition = transaction.AddCondition(Condition.StringEqual(watched, "before"));
        var write = transaction.StringSetAsync(written, "x");
        Assert.True(await other.Database.StringSetAsync(watched, "changed"));
        Assert.False(await transaction.ExecuteAsync().WaitAsync(StepBound, cts.Token), "a transaction whose watched key changed was committed");
        Assert.False(condition.WasSatisfied);
        await Assert.ThrowsAnyAsync<TaskCanceledException>(() => write);
        Assert.False(await db.KeyExistsAsync(written));

        // The same with a change that lands between WATCH and EXEC, which only a raw client can place there: EXEC
        // answers nil and runs nothing.
        var port = await PortAsync(cts.Token);
        await using var raw = await RespClient.ConnectAsync(port, cts.Token);
        Assert.True((await raw.CallAsync(StepBound, cts.Token, "WATCH", watched)).IsOk);
        Assert.True(await other.Database.StringSetAsync(watched, "changed again"));
        Assert.True((await raw.CallAsync(StepBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("+QUEUED", (await raw.CallAsync(StepBound, cts.Token, "SET", written, "y")).ToString());
        var exec = await raw.CallAsync(StepBound, cts.Token, "EXEC");
        Assert.True(exec.IsNull, $"EXEC after the watched key changed answered {exec}");
        Assert.False(await db.KeyExistsAsync(written));
        Assert.Equal("changed again", (string?)await db.StringGetAsync(watched));
        client.AssertNoErrors();
        other.AssertNoErrors();
    }

    [Fact]
    public async Task PubSub_SubscribeThenPublishFromAnotherConnection_MessageReceived()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var subscriber = await ConnectAsync("subscriber", cts.Token);
        await using var publisher = await ConnectAsync("publisher", cts.Token);
        var channel = RedisChannel.Literal($"se-battery:{_run}:channel");
        var received = new TaskCompletionSource<(string Channel, string Message)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscriber.Multiplexer.GetSubscriber().SubscribeAsync(channel, (c, m) => received.TrySetResult(((string)c!, (string)m!))).WaitAsync(StepBound, cts.Token);

        var receivers = await publisher.Multiplexer.GetSubscriber().PublishAsync(channel, "hello").WaitAsync(StepBound, cts.Token);
        var (from, message) = await received.Task.WaitAsync(StepBound, cts.Token);
        Output.WriteLine($"PUBLISH reached {receivers} subscriber(s)");
        Assert.Equal("hello", message);
        Assert.Equal((string)channel!, from);

        await subscriber.Multiplexer.GetSubscriber().UnsubscribeAsync(channel).WaitAsync(StepBound, cts.Token);
        subscriber.AssertNoErrors();
        publisher.AssertNoErrors();
    }

    [Fact]
    public async Task ShardedPubSub_SsubscribeThenSpublishFromAnotherConnection_MessageReceived()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var subscriber = await ConnectAsync("subscriber", cts.Token);
        await using var publisher = await ConnectAsync("publisher", cts.Token);
        var channel = RedisChannel.Sharded(Tag("sharded") + "channel");
        var received = new TaskCompletionSource<(string Channel, string Message)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscriber.Multiplexer.GetSubscriber().SubscribeAsync(channel, (c, m) => received.TrySetResult(((string)c!, (string)m!))).WaitAsync(StepBound, cts.Token);

        var receivers = await publisher.Multiplexer.GetSubscriber().PublishAsync(channel, "sharded hello").WaitAsync(StepBound, cts.Token);
        var (from, message) = await received.Task.WaitAsync(StepBound, cts.Token);
        Output.WriteLine($"SPUBLISH reached {receivers} subscriber(s)");
        Assert.Equal("sharded hello", message);
        Assert.Equal((string)channel!, from);

        await subscriber.Multiplexer.GetSubscriber().UnsubscribeAsync(channel).WaitAsync(StepBound, cts.Token);
        subscriber.AssertNoErrors();
        publisher.AssertNoErrors();
    }

    [Fact]
    public async Task Blpop_EmptyListUntilAnotherClientPushes_WokenWithThePushedValue()
    {
        using var cts = new CancellationTokenSource(TestBound);
        // A blocking command holds its connection: the blocked client gets a multiplexer of its own.
        await using var blocker = await ConnectAsync("blocker", cts.Token);
        await using var pusher = await ConnectAsync("pusher", cts.Token);
        var key = Tag("blpop") + "jobs";

        var sw = Stopwatch.StartNew();
        var popped = blocker.Database.ExecuteAsync("BLPOP", key, 5);
        await Task.Delay(BlockedFor, cts.Token);
        Assert.False(popped.IsCompleted, "BLPOP on an empty list answered before anything was pushed");
        Assert.Equal(1, await pusher.Database.ListLeftPushAsync(key, "job").WaitAsync(StepBound, cts.Token));
        var reply = await popped.WaitAsync(StepBound, cts.Token);
        Output.WriteLine($"BLPOP answered {reply} ({reply.Resp3Type}) after {sw.ElapsedMilliseconds} ms");

        Assert.Equal(new string?[] { key, "job" }, (string?[]?)reply);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(4), $"BLPOP was not woken by the push: it answered after {sw.ElapsedMilliseconds} ms");
        Assert.Equal(0, await pusher.Database.ListLengthAsync(key));
        blocker.AssertNoErrors();
        pusher.AssertNoErrors();
    }

    [Fact]
    public async Task Blpop_NothingPushed_NilAfterItsTimeout()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var blocker = await ConnectAsync("blocker", cts.Token);
        var key = Tag("blpop-timeout") + "nothing";

        var sw = Stopwatch.StartNew();
        var reply = await blocker.Database.ExecuteAsync("BLPOP", key, 1).WaitAsync(StepBound, cts.Token);
        Output.WriteLine($"BLPOP with nothing pushed answered {reply} ({reply.Resp3Type}) after {sw.ElapsedMilliseconds} ms");

        Assert.True(reply.IsNull, $"BLPOP timed out with {reply} ({reply.Resp3Type}), not nil");
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(4));
        Assert.Equal("PONG", (string?)await blocker.Database.ExecuteAsync("PING"));
        blocker.AssertNoErrors();
    }

    [Fact]
    public async Task Xread_WithoutBlockAfterXadd_ReturnsTheEntriesInOrder()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var client = await ConnectAsync("client", cts.Token);
        var db = client.Database;
        var key = Tag("xread") + "stream";

        var first = await db.StreamAddAsync(key, "field", "one");
        var second = await db.StreamAddAsync(key, [new NameValueEntry("field", "two"), new NameValueEntry("extra", "2")]);
        var entries = await db.StreamReadAsync(key, "0-0").WaitAsync(StepBound, cts.Token);

        Assert.Equal(new string?[] { first, second }, entries.Select(e => (string?)e.Id));
        Assert.Equal("one", (string?)entries[0]["field"]);
        Assert.Equal("two", (string?)entries[1]["field"]);
        Assert.Equal("2", (string?)entries[1]["extra"]);
        Assert.Empty(await db.StreamReadAsync(key, second));
        client.AssertNoErrors();
    }

    [Fact]
    public async Task XreadBlock_NewEntryAddedByAnotherClient_WokenWithThatEntry()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var reader = await ConnectAsync("reader", cts.Token);
        await using var writer = await ConnectAsync("writer", cts.Token);
        var key = Tag("xread-block") + "stream";
        await writer.Database.StreamAddAsync(key, "field", "old");

        // StackExchange.Redis has no API for XREAD BLOCK: the command as an application would send it.
        var sw = Stopwatch.StartNew();
        var read = reader.Database.ExecuteAsync("XREAD", "BLOCK", 5000, "STREAMS", key, "$");
        await Task.Delay(BlockedFor, cts.Token);
        Assert.False(read.IsCompleted, "XREAD BLOCK from $ answered before anything was added");
        var id = (string)(await writer.Database.StreamAddAsync(key, "field", "new").WaitAsync(StepBound, cts.Token))!;
        var reply = await read.WaitAsync(StepBound, cts.Token);
        var scalars = Scalars(reply).ToList();
        Output.WriteLine($"XREAD BLOCK answered {reply.Resp3Type} [{string.Join(", ", scalars)}] after {sw.ElapsedMilliseconds} ms");

        Assert.Equal(new string?[] { key, id, "field", "new" }, scalars);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(4), $"XREAD BLOCK was not woken by the XADD: it answered after {sw.ElapsedMilliseconds} ms");
        reader.AssertNoErrors();
        writer.AssertNoErrors();
    }

    [Fact]
    public async Task Eval_ScriptWithKeysOfOneTag_RunsOnThoseKeysAndAgainBySha()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var client = await ConnectAsync("client", cts.Token);
        var db = client.Database;
        var tag = Tag("eval");
        RedisKey[] keys = [tag + "name", tag + "counter"];
        const string Script = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCRBY', KEYS[2], ARGV[2])";

        // The second run goes by EVALSHA once the client knows the script is loaded.
        var first = await db.ScriptEvaluateAsync(Script, keys, ["scripted", 7]).WaitAsync(StepBound, cts.Token);
        var second = await db.ScriptEvaluateAsync(Script, keys, ["again", 7]).WaitAsync(StepBound, cts.Token);

        Assert.Equal(7, (long)first);
        Assert.Equal(14, (long)second);
        Assert.Equal("again", (string?)await db.StringGetAsync(keys[0]));
        Assert.Equal(14, (long)await db.StringGetAsync(keys[1]));
        client.AssertNoErrors();
    }

    [Fact]
    public async Task Scan_KeysOverTheWholeKeyspace_EveryKeyExactlyOnce()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var client = await ConnectAsync("client", cts.Token);
        var db = client.Database;
        var prefix = $"se-battery:{_run}:scan:";
        var keys = Enumerable.Range(0, 300).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture)).ToList();
        Assert.All(await Task.WhenAll(keys.Select(k => db.StringSetAsync(k, "v"))).WaitAsync(StepBound, cts.Token), Assert.True);

        var server = client.Server;
        Output.WriteLine($"server {server.EndPoint}: {server.ServerType} {server.Version}, {server.Protocol}");
        Assert.Equal(ServerType.Standalone, server.ServerType);
        var scanned = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: prefix + "*", pageSize: 25).WithCancellation(cts.Token))
        {
            scanned.Add((string)key!);
        }

        var duplicates = scanned.GroupBy(k => k).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, "keys returned more than once: " + string.Join(", ", duplicates.Take(10)));
        Assert.Equal(keys.Order(StringComparer.Ordinal), scanned.Order(StringComparer.Ordinal));
        CheckScannedKeys(scanned);
        Assert.Equal(keys.Count, await db.KeyDeleteAsync([.. keys.Select(k => (RedisKey)k)]));
        client.AssertNoErrors();
    }

    /// <summary>
    /// A client with every setting at its default. Which protocol it ended up with is checked by the connect test
    /// alone, so that each of the others fails on its own feature.
    /// </summary>
    private async Task<ObservedMultiplexer> ConnectAsync(string name, CancellationToken ct) =>
        await ObservedMultiplexer.ConnectAsync(await PortAsync(ct), name, Output, ConnectBound, ct);

    /// <summary>A hash tag of this run: every key made from it lives in one slot.</summary>
    private string Tag(string test) => $"{{se-battery-{_run}-{test}}}:";

    /// <summary>Every scalar of a reply, depth first (a RESP3 map gives its keys and values in order).</summary>
    private static IEnumerable<string?> Scalars(RedisResult result)
    {
        if (result.IsNull || result.Resp3Type is not (ResultType.Array or ResultType.Map or ResultType.Set or ResultType.Push))
        {
            yield return (string?)result;
            yield break;
        }

        foreach (var item in (RedisResult[])result!)
        {
            foreach (var scalar in Scalars(item))
            {
                yield return scalar;
            }
        }
    }
}
