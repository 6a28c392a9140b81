using System.Globalization;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using ClusterGate.IntegrationTests.ShardPorts;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// A cluster that requires a password stays closed through the gateway: a client that has not authenticated gets what
/// Redis gives it (NOAUTH, WRONGPASS, the HELLO text) on both frontends, not the gateway's own credentials. The same
/// script runs against the master directly, its shard port and the router port, and the replies must be Redis's.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class ClientAuthTests(ITestOutputHelper output)
{
    private const string Password = "Cl1entAuthPw";
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task PasswordCluster_UnauthenticatedClients_AnsweredAsRedisAnswersThem_OnBothFrontends()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { Password = Password }, cts.Token);
        await using var gateway = await GatewayProcess.StartAsync(cluster, descriptorLimit: 4096, ["--password", Password, "--log-level", "Warning"], cts.Token);

        // A key of the first shard port's group (groups are numbered by their lowest slot: slot 0's).
        var key = "auth:{" + HashSlots.TagWhere(slot => slot == 0) + "}:k";
        var master = await cluster.MasterPortForSlotAsync(0, cts.Token);

        var direct = await ScriptAsync(master, key, cts.Token);
        var shard = await ScriptAsync(gateway.ShardBasePort, key, cts.Token);
        var router = await ScriptAsync(gateway.RouterPort, key, cts.Token);
        for (var i = 0; i < direct.Count; i++)
        {
            output.WriteLine($"{direct[i].Command,-40} direct {direct[i].Reply} | shard port {shard[i].Reply} | router {router[i].Reply}");
        }

        Assert.Equal(direct, shard);
        Assert.Equal(direct, router);
        Assert.Contains(direct, r => r.Reply.StartsWith("-NOAUTH Authentication required.", StringComparison.Ordinal));
        Assert.Contains(direct, r => r.Reply.StartsWith("-WRONGPASS", StringComparison.Ordinal));

        // Another ACL user: a shard port has a connection per client and leaves the AUTH to Redis; the router shares its
        // connections, so it takes the gateway's own credentials only.
        await using (var admin = await RespClient.ConnectAsync(master, cts.Token))
        {
            Assert.True((await admin.CallAsync(ReplyBound, cts.Token, "AUTH", Password)).IsOk);
            Assert.True((await admin.CallAsync(ReplyBound, cts.Token, "ACL", "SETUSER", "app", "on", ">apppw", "~*", "+@all")).IsOk);
        }

        await using (var app = await RespClient.ConnectAsync(gateway.ShardBasePort, cts.Token))
        {
            Assert.Equal("-WRONGPASS invalid username-password pair or user is disabled.", (await app.CallAsync(ReplyBound, cts.Token, "AUTH", "app", "wrong")).ToString());
            Assert.Equal("-NOAUTH Authentication required.", (await app.CallAsync(ReplyBound, cts.Token, "GET", key)).ToString());
            Assert.True((await app.CallAsync(ReplyBound, cts.Token, "AUTH", "app", "apppw")).IsOk);
            Assert.Equal("$app", (await app.CallAsync(ReplyBound, cts.Token, "ACL", "WHOAMI")).ToString());
            Assert.True((await app.CallAsync(ReplyBound, cts.Token, "SET", key, "app")).IsOk);
        }

        await using (var app = await RespClient.ConnectAsync(gateway.RouterPort, cts.Token))
        {
            Assert.Equal("-WRONGPASS invalid username-password pair or user is disabled.", (await app.CallAsync(ReplyBound, cts.Token, "AUTH", "app", "apppw")).ToString());
        }

        // StackExchange.Redis with the password connects to both; without it, nothing it sends runs.
        foreach (var port in new[] { gateway.ShardBasePort, gateway.RouterPort })
        {
            var options = ConfigurationOptions.Parse($"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
            options.Password = Password;
            await using (var client = await ConnectionMultiplexer.ConnectAsync(options))
            {
                var db = client.GetDatabase();
                Assert.True(await db.StringSetAsync(key, "se"));
                Assert.Equal("se", (string?)await db.StringGetAsync(key));
            }

            var anonymous = ConfigurationOptions.Parse($"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
            anonymous.AbortOnConnectFail = false;
            anonymous.ConnectTimeout = 2000;
            await using var refused = await ConnectionMultiplexer.ConnectAsync(anonymous);
            var error = await Assert.ThrowsAnyAsync<Exception>(() => refused.GetDatabase().StringGetAsync(key));
            output.WriteLine($"port {port} without a password: {error.GetType().Name}: {error.Message}");
            Assert.Contains("AuthenticationFailure", error.Message, StringComparison.Ordinal);
        }

        Assert.False(gateway.HasExited, gateway.Output);
    }

    /// <summary>The script: Redis's order of checks, a pipeline behind AUTH, a failed AUTH that changes nothing, RESET, HELLO AUTH.</summary>
    private static async Task<List<(string Command, string Reply)>> ScriptAsync(int port, string key, CancellationToken ct)
    {
        var replies = new List<(string, string)>();
        await using var client = await RespClient.ConnectAsync(port, ct);

        async Task CallAsync(params string[] args)
        {
            var reply = await client.CallAsync(ReplyBound, ct, args);
            replies.Add((string.Join(' ', args), Comparable(args[0], reply)));
        }

        await CallAsync("PING");
        await CallAsync("GET", key);
        await CallAsync("SET", key, "v");
        await CallAsync("NOSUCHCOMMAND", "a");
        await CallAsync("GET");
        await CallAsync("HELLO", "3");
        await CallAsync("CLIENT", "SETNAME", "x");
        await CallAsync("AUTH", "wrong");
        await CallAsync("AUTH", "default", "wrong");
        await CallAsync("HELLO", "2", "AUTH", "default", "wrong");
        await CallAsync("AUTH", "someone", Password);

        // Pipelined behind the AUTH, as clients send their handshake: run, as Redis runs them.
        byte[] pipeline = [.. RespClient.Encode("AUTH", Password), .. RespClient.Encode("SET", key, "v"), .. RespClient.Encode("GET", key)];
        await client.SendRawAsync(pipeline, ct);
        foreach (var command in new[] { "AUTH", "SET", "GET" })
        {
            replies.Add(($"{command} (pipelined)", Comparable(command, await client.ReadAsync(ReplyBound, ct))));
        }

        await CallAsync("AUTH", "wrong");   // a failed AUTH leaves the connection authenticated
        await CallAsync("GET", key);
        await CallAsync("RESET");           // back to the default user: not authenticated
        await CallAsync("GET", key);
        await CallAsync("HELLO", "2", "AUTH", "default", Password);
        await CallAsync("GET", key);
        await CallAsync("DEL", key);
        await CallAsync("QUIT");
        return replies;
    }

    /// <summary>The reply as text, HELLO's by type only (its id, mode and version are the server's own).</summary>
    private static string Comparable(string command, RespReply reply) =>
        command.Equals("HELLO", StringComparison.OrdinalIgnoreCase) && !reply.IsError ? $"HELLO reply of type {reply.Type}" : reply.ToString();
}
