using Xunit;

namespace ClusterGate.IntegrationTests.Host;

/// <summary>
/// Tests that set <c>CLUSTERGATE__*</c> variables or read settings from the process environment:
/// run one at a time so that one test's variables never leak into another's configuration.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostEnvironmentCollection
{
    public const string Name = "host-environment";
}
