namespace ClusterGate.Core.Observability;

/// <summary>The class a command is counted in, from Redis's own flags: the metrics' <c>class</c> tag.</summary>
public enum CommandClass
{
    /// <summary>Flagged <c>write</c>.</summary>
    Write,

    /// <summary>Flagged <c>readonly</c> (and not <c>write</c>).</summary>
    Read,

    /// <summary>Neither: connection, server, pub/sub and scripting commands, and commands the gateway does not know.</summary>
    Other,
}

/// <summary>Helpers for <see cref="CommandClass"/>.</summary>
public static class CommandClasses
{
    /// <summary>Every class, in the order of their values.</summary>
    public static CommandClass[] All { get; } = Enum.GetValues<CommandClass>();

    public static CommandClass Of(bool write, bool readOnly) => write ? CommandClass.Write : readOnly ? CommandClass.Read : CommandClass.Other;

    /// <summary>The tag value: <c>write</c>, <c>read</c>, <c>other</c>.</summary>
    public static string Name(this CommandClass commandClass) => commandClass switch
    {
        CommandClass.Write => "write",
        CommandClass.Read => "read",
        _ => "other",
    };
}
