using System.Text.RegularExpressions;
using Xunit;

namespace ClusterGate.Core.UnitTests.Architecture;

/// <summary>
/// The engine's folders depend on each other in one direction only: Resp at the bottom, then Backends, Topology,
/// Routing, and Frontends on top; Transport and Observability beside them. Read from the sources, so an arrow the
/// wrong way fails the build's tests rather than a review.
/// </summary>
public sealed partial class FolderArrowsTests
{
    /// <summary>Each folder and the folders it may use.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["Resp"] = [],
        ["Observability"] = [],
        ["Transport"] = ["Observability"],
        ["Backends"] = ["Resp", "Observability", "Transport"],
        ["Topology"] = ["Backends", "Resp", "Observability"],
        ["Routing"] = ["Topology", "Backends", "Resp", "Observability"],
        ["Frontends"] = ["Routing", "Topology", "Backends", "Resp", "Observability", "Transport"],
    };

    [GeneratedRegex(@"ClusterGate\.Core\.([A-Z][A-Za-z]+)")]
    private static partial Regex CoreReference();

    [GeneratedRegex(@"^using ClusterGate\.(Admin|Cli|Hosting|Configuration|Json)\b", RegexOptions.Multiline)]
    private static partial Regex HostReference();

    [Fact]
    public void Sources_EveryFolder_UsesOnlyTheFoldersBelowIt()
    {
        var core = Path.Combine(RepositoryRoot(), "src", "ClusterGate.Core");
        var violations = new List<string>();
        foreach (var file in Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(core, file);
            var folder = relative.Split(Path.DirectorySeparatorChar)[0];
            if (!Allowed.TryGetValue(folder, out var allowed))
            {
                continue;
            }

            var text = File.ReadAllText(file);
            foreach (Match match in CoreReference().Matches(text))
            {
                var used = match.Groups[1].Value;
                if (used != folder && Allowed.ContainsKey(used) && !allowed.Contains(used))
                {
                    violations.Add($"{relative} uses {used}");
                }
            }

            if (HostReference().IsMatch(text))
            {
                violations.Add($"{relative} uses the host executable");
            }
        }

        Assert.True(violations.Count == 0, "Arrows against the design:\n" + string.Join("\n", violations.Distinct()));
    }

    [Fact]
    public void Allowed_FolderArrows_HaveNoCycle()
    {
        foreach (var (folder, _) in Allowed)
        {
            var seen = new HashSet<string>();
            var stack = new Stack<string>(Allowed[folder]);
            while (stack.Count > 0)
            {
                var next = stack.Pop();
                Assert.NotEqual(folder, next);
                if (seen.Add(next))
                {
                    foreach (var below in Allowed[next])
                    {
                        stack.Push(below);
                    }
                }
            }
        }
    }

    private static string RepositoryRoot()
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
