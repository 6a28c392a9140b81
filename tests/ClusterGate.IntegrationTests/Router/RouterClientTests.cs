using System.Diagnostics;
using System.Globalization;
using System.Text;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>Clients with no cluster support (redis-cli without -c, StackExchange.Redis, redis-benchmark) use the whole cluster through the router port.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RouterClientTests(RedisClusterFixture fixture, SharedRouterGateway shared, ITestOutputHelper output)
    : IClassFixture<SharedRouterGateway>, IDisposable
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(10);
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task SetGet_OneKeyInEverySlot_PipelinedThroughOneConnection_AllStoredOnTheirMasters()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        string Key(int slot) => $"slot:{_run}:{{{SlotTags.Of(slot)}}}";
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);

        var sw = Stopwatch.StartNew();
        var sets = Enumerable.Range(0, RedisCluster.SlotCount).Select(s => new[] { "SET", Key(s), "v" + s.ToString(CultureInfo.InvariantCulture) }).ToList();
        var setReplies = await RouterPipeline.RunAsync(client, sets, ReplyBound, cts.Token);
        var gets = Enumerable.Range(0, RedisCluster.SlotCount).Select(s => new[] { "GET", Key(s) }).ToList();
        var getReplies = await RouterPipeline.RunAsync(client, gets, ReplyBound, cts.Token);
        output.WriteLine($"16384 SET + 16384 GET pipelined in {sw.ElapsedMilliseconds} ms");

        var badSets = Enumerable.Range(0, RedisCluster.SlotCount).Where(s => !setReplies[s].IsOk).ToList();
        Assert.True(badSets.Count == 0, $"{badSets.Count} SETs failed, e.g. slot {badSets.FirstOrDefault()}: {(badSets.Count > 0 ? setReplies[badSets[0]] : null)}");
        var badGets = Enumerable.Range(0, RedisCluster.SlotCount).Where(s => getReplies[s].Text != "v" + s.ToString(CultureInfo.InvariantCulture)).ToList();
        Assert.True(badGets.Count == 0, $"{badGets.Count} GETs wrong, e.g. slot {badGets.FirstOrDefault()}: {(badGets.Count > 0 ? getReplies[badGets[0]] : null)}");

        // Every key really is on the master that owns its slot (read without the gateway).
        foreach (var group in Enumerable.Range(0, RedisCluster.SlotCount).Where(s => s % 16 == 0).GroupBy(gateway.MasterPortOfSlot))
        {
            await using var master = await RespClient.ConnectAsync(group.Key, cts.Token);
            var replies = await RouterPipeline.RunAsync(master, [.. group.Select(s => new[] { "GET", Key(s) })], ReplyBound, cts.Token);
            Assert.Equal(group.Select(s => "v" + s.ToString(CultureInfo.InvariantCulture)), replies.Select(r => r.Text));
        }
    }

    [Fact]
    public async Task RedisCliWithoutClusterMode_KeysOfEveryGroupAndMultiKeyCommands_AnswersLikeOneServer()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var groups = gateway.Monitor.Current.Groups.Select(g => g.Id).ToList();
        var keys = groups.Select(g => $"cli:{_run}:{{{gateway.TagOfGroup(g)}}}").ToList();
        Assert.Equal(3, keys.Select(k => gateway.GroupOfSlot(HashSlots.Of(k))).Distinct().Count());

        var script = new StringBuilder();
        foreach (var key in keys)
        {
            script.Append(CultureInfo.InvariantCulture, $"SET {key} v-{key}\n");
        }

        foreach (var key in keys)
        {
            script.Append(CultureInfo.InvariantCulture, $"GET {key}\n");
        }

        script.Append(CultureInfo.InvariantCulture, $"MSET {keys[0]} m0 {keys[1]} m1 {keys[2]} m2\n");
        script.Append(CultureInfo.InvariantCulture, $"MGET {keys[2]} {keys[0]} {keys[1]}\n");
        script.Append(CultureInfo.InvariantCulture, $"EXISTS {keys[0]} {keys[1]} {keys[2]} {keys[0]}\n");
        script.Append(CultureInfo.InvariantCulture, $"SUNIONSTORE {keys[0]}:dst {keys[1]} {keys[2]}\n");
        script.Append(CultureInfo.InvariantCulture, $"DEL {keys[0]} {keys[1]} {keys[2]}\n");
        script.Append(CultureInfo.InvariantCulture, $"EXISTS {keys[0]} {keys[1]} {keys[2]}\n");
        script.Append("PING\n");

        var (exitCode, stdout, stderr, elapsed) = await ProcessRunner.RunAsync(
            "redis-cli", ["-h", "127.0.0.1", "-p", gateway.Port.ToString(CultureInfo.InvariantCulture)], script.ToString(), TimeSpan.FromSeconds(60), cts.Token);
        output.WriteLine($"redis-cli exit {exitCode} in {elapsed.TotalMilliseconds:0} ms, stderr: {stderr}\n{stdout}");
        Assert.Equal(0, exitCode);
        // Raw output: one line per reply; redis-cli itself adds an empty line after an error reply (no nils here).
        var lines = stdout.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();

        string[] expected =
        [
            "OK", "OK", "OK",
            .. keys.Select(k => "v-" + k),
            "OK",
            "m2", "m0", "m1",
            "4",
            "CROSSSLOT Keys in request don't hash to the same slot",
            "3",
            "0",
            "PONG",
        ];
        Assert.Equal(expected, lines);
    }

    [Fact]
    public async Task MultiKeyCommands_KeysAcrossManySlots_SplitAndMergedInClientOrder()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var keys = Enumerable.Range(0, 60).Select(i => $"mk:{_run}:{i}").ToList();
        Assert.Equal(3, keys.Select(k => gateway.GroupOfSlot(HashSlots.Of(k))).Distinct().Count());
        var missing = $"mk:{_run}:missing";

        var mset = new List<string> { "MSET" };
        foreach (var key in keys)
        {
            mset.AddRange([key, "val-" + key]);
        }

        Assert.True((await client.CallAsync(ReplyBound, cts.Token, [.. mset])).IsOk);

        // MGET in a shuffled order with a missing key in the middle: values come back in the asked order.
        var asked = keys.OrderBy(k => HashSlots.Of(k) * 7 % 101).ToList();
        asked.Insert(asked.Count / 2, missing);
        var mget = await client.CallAsync(ReplyBound, cts.Token, ["MGET", .. asked]);
        Assert.NotNull(mget.Items);
        Assert.Equal(asked.Select(k => k == missing ? null : "val-" + k), mget.Items!.Select(i => i.Text));

        // Sums: duplicates count like Redis (EXISTS counts each, DEL deletes once).
        Assert.Equal(keys.Count + 2, (await client.CallAsync(ReplyBound, cts.Token, ["EXISTS", .. keys, keys[0], keys[5], missing])).Integer);
        Assert.Equal(keys.Count, (await client.CallAsync(ReplyBound, cts.Token, ["TOUCH", .. keys, missing])).Integer);
        Assert.Equal(20, (await client.CallAsync(ReplyBound, cts.Token, ["UNLINK", .. keys.Take(20), missing])).Integer);
        Assert.Equal(40, (await client.CallAsync(ReplyBound, cts.Token, ["DEL", .. keys, keys[30], missing])).Integer);
        Assert.Equal(0, (await client.CallAsync(ReplyBound, cts.Token, ["EXISTS", .. keys])).Integer);
        Assert.All((await client.CallAsync(ReplyBound, cts.Token, ["MGET", .. keys])).Items!, i => Assert.True(i.IsNull));

        // Commands that cannot be split get CROSSSLOT, exactly as Redis words it; one slot works.
        var cross = await client.CallAsync(ReplyBound, cts.Token, "SUNIONSTORE", keys[0], keys[1], keys[2]);
        Assert.Equal("-CROSSSLOT Keys in request don't hash to the same slot", cross.ToString());
        var rename = await client.CallAsync(ReplyBound, cts.Token, "RENAME", keys[0], keys[1]);
        output.WriteLine("RENAME across slots: " + rename);
        var tag = $"{{mk{_run}}}";
        Assert.Equal(1, (await client.CallAsync(ReplyBound, cts.Token, "SADD", tag + "a", "x")).Integer);
        Assert.Equal(1, (await client.CallAsync(ReplyBound, cts.Token, "SADD", tag + "b", "y")).Integer);
        Assert.Equal(2, (await client.CallAsync(ReplyBound, cts.Token, "SUNIONSTORE", tag + "c", tag + "a", tag + "b")).Integer);
        Assert.Equal(3, (await client.CallAsync(ReplyBound, cts.Token, "DEL", tag + "a", tag + "b", tag + "c")).Integer);

        // MSET with an odd number of arguments: Redis's own arity error, not a split.
        var odd = await client.CallAsync(ReplyBound, cts.Token, "MSET", keys[0], "a", keys[1]);
        output.WriteLine("MSET odd: " + odd);
        Assert.True(odd.IsError, $"MSET with a key and no value answered {odd}");
    }

    [Fact]
    public async Task StackExchangeRedis_PlainConnectToRouter_StandaloneWithMultiKeyAndScanOverAllMasters()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        using var log = new StringWriter(CultureInfo.InvariantCulture);
        try
        {
            // Plain configuration string, as an application would write it.
            using var mux = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{gateway.Port}", log).WaitAsync(TimeSpan.FromSeconds(30), cts.Token);
            var endpoint = mux.GetEndPoints().Single();
            var server = mux.GetServer(endpoint);
            output.WriteLine($"endpoint {endpoint}, server type {server.ServerType}, version {server.Version}, connected {server.IsConnected}");
            Assert.Equal(ServerType.Standalone, server.ServerType);
            Assert.True(server.IsConnected);

            var db = mux.GetDatabase();
            var prefix = $"se:{_run}:";
            var keys = Enumerable.Range(0, 300).Select(i => (RedisKey)(prefix + i.ToString(CultureInfo.InvariantCulture))).ToArray();
            Assert.Equal(3, keys.Select(k => gateway.GroupOfSlot(HashSlots.Of((string)k!))).Distinct().Count());
            var sets = await Task.WhenAll(keys.Select(k => db.StringSetAsync(k, "se-" + (string)k!))).WaitAsync(TimeSpan.FromSeconds(30), cts.Token);
            Assert.All(sets, Assert.True);
            Assert.Equal("se-" + (string)keys[7]!, (string?)await db.StringGetAsync(keys[7]));

            var values = await db.StringGetAsync(keys).WaitAsync(TimeSpan.FromSeconds(30), cts.Token);
            Assert.Equal(keys.Select(k => (string?)("se-" + (string)k!)), values.Select(v => (string?)v));

            // SCAN through the router: each key across the slots of every master exactly once.
            var scanned = await Task.Run(() => server.Keys(pattern: prefix + "*", pageSize: 25).Select(k => (string)k!).ToList(), CancellationToken.None)
                .WaitAsync(TimeSpan.FromSeconds(60), cts.Token);
            output.WriteLine($"Keys() returned {scanned.Count} keys");
            var duplicates = scanned.GroupBy(k => k).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(duplicates.Count == 0, "keys returned more than once: " + string.Join(", ", duplicates.Take(10)));
            Assert.Equal(keys.Select(k => (string)k!).Order(StringComparer.Ordinal), scanned.Order(StringComparer.Ordinal));

            var deleted = await db.KeyDeleteAsync(keys).WaitAsync(TimeSpan.FromSeconds(30), cts.Token);
            Assert.Equal(keys.Length, deleted);
            Assert.All(await db.StringGetAsync(keys), v => Assert.True(v.IsNull));
        }
        finally
        {
            output.WriteLine("StackExchange.Redis log:\n" + log);
        }
    }

    [Fact]
    public async Task RedisBenchmark_FiftyClientsPipelinedSixteen_ExitsZeroWithoutErrorReplies()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var (exitCode, stdout, stderr, elapsed) = await ProcessRunner.RunAsync(
            "redis-benchmark",
            ["-h", "127.0.0.1", "-p", gateway.Port.ToString(CultureInfo.InvariantCulture), "-r", "1000000", "-c", "50", "-P", "16", "-t", "set,get,incr,lpush,mset", "-n", "20000", "-q"],
            null,
            TimeSpan.FromSeconds(90),
            cts.Token);
        output.WriteLine($"redis-benchmark exit {exitCode} in {elapsed.TotalSeconds:0.0} s\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Equal(0, exitCode);
        Assert.DoesNotContain("Error", stdout + stderr, StringComparison.OrdinalIgnoreCase);
        foreach (var test in new[] { "SET", "GET", "INCR", "LPUSH", "MSET" })
        {
            Assert.Contains(test, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Pipeline_FiveThousandMixedCommandsAcrossMasters_RepliesInClientOrderWithRightValues()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        // Key i lives in group i % 3 (a different slot each time), so consecutive commands go to different masters.
        var snapshot = gateway.Monitor.Current;
        var groupIds = snapshot.Groups.Select(g => g.Id).Order().ToArray();
        var slotsOfGroup = groupIds.Select(g => Enumerable.Range(0, RedisCluster.SlotCount).Where(s => snapshot.GroupForSlot(s)?.Id == g).ToArray()).ToArray();
        string Key(int i) => i < 0 ? $"po:{_run}:none" : $"po:{_run}:{i}:{{{SlotTags.Of(slotsOfGroup[i % 3][(i * 37) % slotsOfGroup[i % 3].Length])}}}";
        string Counter(int i) => $"po:{_run}:n{i % 7}";
        var commands = new List<string[]>();
        var expected = new List<string>();
        var counters = new int[7];
        for (var i = 0; commands.Count < 5000; i++)
        {
            commands.Add(["SET", Key(i), "v" + i.ToString(CultureInfo.InvariantCulture)]);
            expected.Add("+OK");
            commands.Add(["GET", Key(i - 1)]);
            expected.Add(i == 0 ? "(nil)" : "$v" + (i - 1).ToString(CultureInfo.InvariantCulture));
            commands.Add(["INCR", Counter(i)]);
            expected.Add((++counters[i % 7]).ToString(CultureInfo.InvariantCulture));
            commands.Add(["MGET", Key(i), Key(i - 1), Key(i + 1)]);
            expected.Add($"*[$v{i}, {(i == 0 ? "(nil)" : "$v" + (i - 1).ToString(CultureInfo.InvariantCulture))}, (nil)]");
        }

        var masters = commands.Take(200).Where(c => c[0] == "SET").Select(c => gateway.GroupOfSlot(HashSlots.Of(c[1]))).ToList();
        Assert.Equal(3, masters.Distinct().Count());
        Assert.All(masters.Zip(masters.Skip(1)), p => Assert.NotEqual(p.First, p.Second));

        var sw = Stopwatch.StartNew();
        var replies = await RouterPipeline.RunAsync(client, commands, ReplyBound, cts.Token, chunk: commands.Count);
        output.WriteLine($"{commands.Count} pipelined commands answered in {sw.ElapsedMilliseconds} ms");
        var wrong = Enumerable.Range(0, commands.Count).Where(i => replies[i].ToString() != expected[i]).ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} replies out of place, first: " + string.Join("; ", wrong.Take(5).Select(i => $"#{i} {string.Join(' ', commands[i])} expected {expected[i]} got {replies[i]}")));
    }

    [Fact]
    public async Task ServerCommands_AsOneStandaloneServer_DbsizeKeysScanInfoAndLocalCommands()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var prefix = $"sv:{_run}:";
        var strings = Enumerable.Range(0, 200).Select(i => prefix + "s" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        var hashes = Enumerable.Range(0, 50).Select(i => prefix + "h" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        var writes = strings.Select(k => new[] { "SET", k, "x" }).Concat(hashes.Select(k => new[] { "HSET", k, "f", "v" })).ToList();
        Assert.All(await RouterPipeline.RunAsync(client, writes, ReplyBound, cts.Token), r => Assert.False(r.IsError, r.ToString()));

        // DBSIZE: the sum over the masters (read without the gateway, before and after, to tolerate nothing else writing).
        var masters = gateway.MasterPorts;
        Assert.Equal(3, masters.Count);
        async Task<long> SumAsync()
        {
            long sum = 0;
            foreach (var port in masters)
            {
                await using var m = await RespClient.ConnectAsync(port, cts.Token);
                sum += (await m.CallAsync(ReplyBound, cts.Token, "DBSIZE")).Integer;
            }

            return sum;
        }

        var before = await SumAsync();
        var dbsize = (await client.CallAsync(ReplyBound, cts.Token, "DBSIZE")).Integer;
        var after = await SumAsync();
        output.WriteLine($"DBSIZE through the router {dbsize}, sum over masters {before}/{after}");
        // (Other tests' keys in the same cluster may come and go meanwhile: between the two sums, either way.)
        Assert.InRange(dbsize, Math.Min(before, after), Math.Max(before, after));

        // KEYS over every master.
        var keys = await client.CallAsync(ReplyBound, cts.Token, "KEYS", prefix + "*");
        Assert.Equal(strings.Concat(hashes).Order(StringComparer.Ordinal), keys.Items!.Select(i => i.Text!).Order(StringComparer.Ordinal));

        // SCAN: a full iteration returns every key once; MATCH, COUNT and TYPE are passed through.
        async Task<List<string>> ScanAsync(params string[] options)
        {
            var found = new List<string>();
            var cursor = "0";
            var calls = 0;
            do
            {
                var page = await client.CallAsync(ReplyBound, cts.Token, ["SCAN", cursor, .. options]);
                Assert.True(page.Items is { Count: 2 }, $"SCAN answered {page}");
                cursor = page.Items![0].Text!;
                found.AddRange(page.Items[1].Items!.Select(i => i.Text!));
                Assert.True(++calls < 100_000, "SCAN did not finish");
            }
            while (cursor != "0");
            return found;
        }

        var all = await ScanAsync("MATCH", prefix + "*", "COUNT", "50");
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(strings.Concat(hashes).Order(StringComparer.Ordinal), all.Order(StringComparer.Ordinal));
        var onlyHashes = await ScanAsync("MATCH", prefix + "*", "COUNT", "1000", "TYPE", "hash");
        Assert.Equal(hashes.Order(StringComparer.Ordinal), onlyHashes.Order(StringComparer.Ordinal));
        var everything = await ScanAsync("COUNT", "1000");
        Assert.Equal(everything.Count, everything.Distinct().Count());
        // Every key of this test, each once; other tests' keys in the shared cluster may come and go meanwhile.
        Assert.Subset(everything.ToHashSet(StringComparer.Ordinal), strings.Concat(hashes).ToHashSet(StringComparer.Ordinal));
        var badCursor = await client.CallAsync(ReplyBound, cts.Token, "SCAN", "notanumber");
        output.WriteLine("SCAN notanumber: " + badCursor);
        Assert.True(badCursor.IsError);

        // INFO: standalone, with every master's keys in the keyspace.
        var info = (await client.CallAsync(ReplyBound, cts.Token, "INFO")).Text!;
        Assert.Contains("redis_mode:standalone", info, StringComparison.Ordinal);
        Assert.Contains("cluster_enabled:0", info, StringComparison.Ordinal);
        Assert.DoesNotContain("cluster_enabled:1", info, StringComparison.Ordinal);
        var keyspace = info.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("db0:", StringComparison.Ordinal));
        output.WriteLine("INFO keyspace: " + keyspace);
        var infoKeys = long.Parse(keyspace.Split(',')[0]["db0:keys=".Length..], CultureInfo.InvariantCulture);
        Assert.InRange(infoKeys, before, after);
        var infoKeyspace = (await client.CallAsync(ReplyBound, cts.Token, "INFO", "keyspace")).Text!;
        Assert.Contains("db0:keys=", infoKeyspace, StringComparison.Ordinal);
        var infoServer = (await client.CallAsync(ReplyBound, cts.Token, "INFO", "server")).Text!;
        Assert.Contains("redis_mode:standalone", infoServer, StringComparison.Ordinal);

        // CLUSTER *: what a server with cluster support off says (a standalone Redis 7 checks the arity first).
        foreach (var sub in new[] { "NODES", "SLOTS", "INFO", "KEYSLOT foo" })
        {
            Assert.Equal("-ERR This instance has cluster support disabled", (await client.CallAsync(ReplyBound, cts.Token, ["CLUSTER", .. sub.Split(' ')])).ToString());
        }

        Assert.Equal("-ERR wrong number of arguments for 'cluster|keyslot' command", (await client.CallAsync(ReplyBound, cts.Token, "CLUSTER", "KEYSLOT")).ToString());

        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SELECT", "0")).IsOk);
        var select1 = await client.CallAsync(ReplyBound, cts.Token, "SELECT", "1");
        Assert.True(select1.IsError, $"SELECT 1 answered {select1}");
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "CLIENT", "SETNAME", "router-test")).IsOk);
        Assert.Equal("router-test", (await client.CallAsync(ReplyBound, cts.Token, "CLIENT", "GETNAME")).Text);
        var id = await client.CallAsync(ReplyBound, cts.Token, "CLIENT", "ID");
        Assert.Equal(':', id.Type);
        Assert.True(id.Integer > 0);
        Assert.Equal("+PONG", (await client.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        Assert.Equal("$hello", (await client.CallAsync(ReplyBound, cts.Token, "PING", "hello")).ToString());
        Assert.Equal("$echo me", (await client.CallAsync(ReplyBound, cts.Token, "ECHO", "echo me")).ToString());

        // QUIT: +OK, then the router closes the connection.
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "QUIT")).IsOk);
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5), cts.Token), "QUIT did not close the connection");
    }

    [Fact]
    public async Task ErrorReplies_UnknownCommandAndWrongArity_WordedExactlyAsRedis()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var master = await RespClient.ConnectAsync(gateway.MasterPorts[0], cts.Token);
        var differences = new List<string>();
        foreach (var command in new[] { new[] { "FOOBAR", "a", "b" }, ["foobar"], ["GET"], ["GET", "a", "b"], ["SET", "a"], ["CONFIG", "GET"], ["XINFO", "STREAM"], ["OBJECT", "ENCODING"] })
        {
            var viaRouter = await client.CallAsync(ReplyBound, cts.Token, command);
            var viaRedis = await master.CallAsync(ReplyBound, cts.Token, command);
            output.WriteLine($"{string.Join(' ', command)}: router {viaRouter} / redis {viaRedis}");
            if (viaRedis.ToString() != viaRouter.ToString())
            {
                differences.Add($"{string.Join(' ', command)}: router '{viaRouter}' vs redis '{viaRedis}'");
            }
        }

        Assert.True(differences.Count == 0, string.Join("\n", differences));
    }

    [Fact]
    public async Task Wait_OneClientWaitsForMissingReplicas_OtherClientsOnTheSharedConnectionsAreNotStalled()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var tags = gateway.Monitor.Current.Groups.Select(g => gateway.TagOfGroup(g.Id)).ToList();
        var others = new List<RespClient>();
        await using var waiter = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        try
        {
            // Enough clients that some share the waiter's backend connection (sessions are spread over a few per master).
            for (var i = 0; i < 8; i++)
            {
                others.Add(await RespClient.ConnectAsync(gateway.Port, cts.Token));
            }

            // WAIT has no "blocking" flag, but it blocks the connection it runs on for up to its timeout.
            await waiter.SendAsync(cts.Token, "WAIT", "5", "3000");
            await Task.Delay(100, cts.Token);
            var slow = new List<string>();
            foreach (var (client, index) in others.Select((c, i) => (c, i)))
            {
                foreach (var tag in tags)
                {
                    var sw = Stopwatch.StartNew();
                    var reply = await client.CallAsync(ReplyBound, cts.Token, "GET", $"{{{tag}}}:wait:{_run}");
                    if (sw.Elapsed > TimeSpan.FromMilliseconds(500))
                    {
                        slow.Add($"client {index} GET on group of {tag}: {sw.ElapsedMilliseconds} ms ({reply})");
                    }
                }
            }

            var wait = await waiter.ReadAsync(ReplyBound, cts.Token);
            output.WriteLine($"WAIT 5 3000 answered {wait}; stalled: {string.Join("; ", slow)}");
            Assert.True(slow.Count == 0, $"{slow.Count} commands of other clients were stalled behind one client's WAIT: {string.Join("; ", slow)}");
        }
        finally
        {
            foreach (var client in others)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Pipeline_NextReplyHeldByABusyMaster_EarlierRepliesStillArriveAtOnce()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var groups = gateway.Monitor.Current.Groups.Select(g => g.Id).ToList();
        var fast = $"{{{gateway.TagOfGroup(groups[0])}}}:linger:{_run}";
        var slow = $"{{{gateway.TagOfGroup(groups[1])}}}:linger:{_run}";
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", fast, "here")).IsOk);

        // The slow key's master sleeps: its reply, next in the client's order, is held for 2 s. The gateway
        // leaves replies unflushed while the rest of a client's pipeline is on its way; the fast reply
        // before it must still go out at once (the safety-net timer), not wait for the sleeping master.
        await using var sleeper = await RespClient.ConnectAsync(gateway.MasterPortOfSlot(HashSlots.Of(slow)), cts.Token);
        await sleeper.SendAsync(cts.Token, "DEBUG", "SLEEP", "2");
        await Task.Delay(100, cts.Token);
        var sw = Stopwatch.StartNew();
        await client.SendRawAsync(RespClient.Encode("GET", fast).Concat(RespClient.Encode("GET", slow)).ToArray(), cts.Token);
        var first = await client.ReadAsync(ReplyBound, cts.Token);
        var firstMs = sw.ElapsedMilliseconds;
        var second = await client.ReadAsync(ReplyBound, cts.Token);
        output.WriteLine($"fast reply {first} after {firstMs} ms, held reply {second} after {sw.ElapsedMilliseconds} ms");
        await sleeper.ReadAsync(ReplyBound, cts.Token);

        Assert.Equal("here", first.Text);
        Assert.True(second.IsNull, $"expected nil for the slow key, got {second}");
        Assert.True(firstMs < 1000, $"the reply that was ready waited {firstMs} ms for the held one");
        Assert.True(sw.ElapsedMilliseconds >= 1000, "the slow master did not sleep: the test proves nothing");
    }

    [Fact]
    public async Task SplitCommands_OnePartRefusedByItsMaster_ErrorNamesThePartsAndOtherPartsStillMerge()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var groups = gateway.Monitor.Current.Groups.Select(g => g.Id).ToList();
        var keys = groups.Select(g => $"{{{gateway.TagOfGroup(g)}}}:split-fail:{_run}").ToList();
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MSET", keys[0], "a", keys[1], "b", keys[2], "c")).IsOk);

        // One master refuses writes (used memory above maxmemory, noeviction): its part of MSET fails.
        await using var refusing = await RespClient.ConnectAsync(gateway.MasterPortOfSlot(HashSlots.Of(keys[1])), cts.Token);
        var policy = (await refusing.CallAsync(ReplyBound, cts.Token, "CONFIG", "GET", "maxmemory-policy")).Items![1].Text!;
        Assert.True((await refusing.CallAsync(ReplyBound, cts.Token, "CONFIG", "SET", "maxmemory-policy", "noeviction")).IsOk);
        Assert.True((await refusing.CallAsync(ReplyBound, cts.Token, "CONFIG", "SET", "maxmemory", "1")).IsOk);
        RespReply mset, del, exists;
        try
        {
            mset = await client.CallAsync(ReplyBound, cts.Token, "MSET", keys[0], "x", keys[1], "y", keys[2], "z");
            exists = await client.CallAsync(ReplyBound, cts.Token, "EXISTS", keys[0], keys[1], keys[2], "missing:" + _run);
            del = await client.CallAsync(ReplyBound, cts.Token, "DEL", keys[0], keys[2]);
        }
        finally
        {
            await refusing.CallAsync(ReplyBound, CancellationToken.None, "CONFIG", "SET", "maxmemory", "0");
            await refusing.CallAsync(ReplyBound, CancellationToken.None, "CONFIG", "SET", "maxmemory-policy", policy);
        }

        output.WriteLine($"MSET: {mset}; EXISTS: {exists}; DEL: {del}");
        Assert.True(mset.IsError, $"MSET with a refused part answered {mset}");
        Assert.StartsWith("OOM", mset.Text, StringComparison.Ordinal);
        Assert.Contains("1 of 3 per-slot parts failed or were not run", mset.Text, StringComparison.Ordinal);
        Assert.Contains("the other parts' keys were set", mset.Text, StringComparison.Ordinal);
        Assert.Equal(3, exists.Integer);
        Assert.Equal(2, del.Integer);
        Assert.Equal("b", (await client.CallAsync(ReplyBound, cts.Token, "GET", keys[1])).Text);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "GET", keys[0])).IsNull);
    }

    public void Dispose() => shared.Log.Output = null;
}
