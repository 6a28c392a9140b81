using System.Reflection;
using ClusterGate.Configuration;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// The README's configuration reference cannot drift from the options types: every setting of <see cref="GatewayOptions"/>
/// (and its Topology section) is in the table with its config key, and with its CLI flag where it has one.
/// </summary>
public sealed class ConfigurationReferenceTests
{
    [Fact]
    public void Readme_EverySettingWithItsKeyAndFlag()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root(), "README.md"));
        var table = string.Join('\n', readme.Split('\n').Where(l => l.StartsWith('|')));
        var missing = new List<string>();
        foreach (var property in typeof(GatewayOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.Name == nameof(GatewayOptions.Topology))
            {
                missing.AddRange(typeof(GatewayTopologyOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
                    .Where(p => !table.Contains($"`{p.Name}`", StringComparison.Ordinal) && !table.Contains($"`Topology.{p.Name}`", StringComparison.Ordinal))
                    .Select(p => $"Topology.{p.Name}"));
                continue;
            }

            if (!property.CanWrite && (property.PropertyType == typeof(string) || property.PropertyType.IsValueType))
            {
                // Computed from the settings (EffectiveAnnounceHost), not one itself.
                continue;
            }

            if (!table.Contains($"`{property.Name}`", StringComparison.Ordinal) && !table.Contains($"`{property.Name}:", StringComparison.Ordinal))
            {
                missing.Add(property.Name);
            }

            if (GatewayConfiguration.TopLevelKeys.TryGetValue(property.Name, out var flag) && flag is not null && !table.Contains($"`{flag}", StringComparison.Ordinal))
            {
                missing.Add($"{property.Name} ({flag})");
            }
        }

        Assert.True(missing.Count == 0, "not in the README's configuration table: " + string.Join(", ", missing));
    }
}
