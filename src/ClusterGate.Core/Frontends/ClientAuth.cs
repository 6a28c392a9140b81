using System.Security.Cryptography;
using System.Text;

namespace ClusterGate.Core.Frontends;

/// <summary>
/// Clients authenticate to the gateway as they would to Redis. When the gateway has a password (the cluster requires
/// one), a client connection starts unauthenticated: like Redis, it gets <c>NOAUTH</c> for every command but AUTH, HELLO
/// with AUTH, QUIT and RESET (the <c>no_auth</c> ones) until it authenticates, so the gateway's own credentials never
/// stand in for a client that has none. The gateway checks AUTH against the credentials it was given.
/// </summary>
internal static class ClientAuth
{
    /// <summary>Whether <paramref name="user"/> (null: AUTH with the password only, the <c>default</c> user) and
    /// <paramref name="password"/> are the gateway's credentials; compared in constant time.</summary>
    public static bool Matches(string? configuredUser, string? configuredPassword, string? user, string password)
    {
        if (configuredPassword is null)
        {
            return false;
        }

        var userMatches = user is null ? configuredUser is null or "default" : user == (configuredUser ?? "default");
        var passwordMatches = CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(configuredPassword));
        return userMatches & passwordMatches;
    }
}
