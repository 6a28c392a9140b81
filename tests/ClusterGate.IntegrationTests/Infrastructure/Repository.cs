namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>The repository the tests run from (README, tools/), found above the test binaries.</summary>
internal static class Repository
{
    public static string Root()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ClusterGate.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("ClusterGate.sln not found above " + AppContext.BaseDirectory);
    }
}
