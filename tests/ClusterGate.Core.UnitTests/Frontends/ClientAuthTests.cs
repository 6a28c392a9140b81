using ClusterGate.Core.Frontends;
using Xunit;

namespace ClusterGate.Core.UnitTests.Frontends;

public sealed class ClientAuthTests
{
    [Theory]
    [InlineData(null, "pw", null, "pw", true)]          // AUTH pw: the default user
    [InlineData(null, "pw", "default", "pw", true)]     // AUTH default pw
    [InlineData(null, "pw", "app", "pw", false)]        // another user
    [InlineData(null, "pw", null, "PW", false)]
    [InlineData(null, "pw", null, "pw ", false)]
    [InlineData("app", "pw", "app", "pw", true)]        // the gateway's ACL user
    [InlineData("app", "pw", null, "pw", false)]        // AUTH pw is the default user, not the gateway's
    [InlineData("app", "pw", "default", "pw", false)]
    [InlineData(null, null, null, "pw", false)]         // no password: nothing to match (AUTH is answered as Redis without one)
    public void Matches_OnlyTheGatewaysOwnUserAndPassword(string? configuredUser, string? configuredPassword, string? user, string password, bool expected) =>
        Assert.Equal(expected, ClientAuth.Matches(configuredUser, configuredPassword, user, password));
}
