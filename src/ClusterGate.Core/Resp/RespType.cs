using System.Diagnostics.CodeAnalysis;

namespace ClusterGate.Core.Resp;

/// <summary>RESP2/RESP3 value types; the value is the type's prefix byte on the wire.</summary>
public enum RespType : byte
{
    SimpleString = (byte)'+',
    Error = (byte)'-',
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "RESP type name.")]
    Integer = (byte)':',
    BulkString = (byte)'$',
    Array = (byte)'*',
    Null = (byte)'_',
    Map = (byte)'%',
    Set = (byte)'~',
    Push = (byte)'>',
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "RESP type name.")]
    Double = (byte)',',
    Boolean = (byte)'#',
    BigNumber = (byte)'(',
    Verbatim = (byte)'=',
    Attribute = (byte)'|',
    BulkError = (byte)'!',
}

/// <summary>Outcome of scanning or parsing one frame.</summary>
public enum RespScanStatus
{
    /// <summary>A whole frame was found and consumed.</summary>
    Complete,

    /// <summary>The input is a valid prefix of a frame; read more and call again.</summary>
    Incomplete,

    /// <summary>The input cannot become a valid frame; the message says why.</summary>
    Error,
}
