using System.Globalization;
using System.Text;

namespace ClusterGate.Core.UnitTests.Topology;

/// <summary>
/// Reads the raw replies in <c>Captures/</c> (copied to the output folder). Kept deliberately tiny and independent of
/// the production RESP reader, so parser tests do not depend on it and cannot share its bugs.
/// </summary>
internal static class CaptureFiles
{
    public static byte[] ReadBytes(string name) =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Captures", name));

    /// <summary>The payload of a capture that is one bulk string (<c>$N\r\n...\r\n</c>) or verbatim string (<c>=N\r\ntxt:...\r\n</c>).</summary>
    public static string ReadBulkText(string name)
    {
        var bytes = ReadBytes(name);
        var header = Array.IndexOf(bytes, (byte)'\n');
        if (header < 2 || bytes[header - 1] != '\r' || (bytes[0] != '$' && bytes[0] != '='))
        {
            throw new InvalidDataException($"{name}: not a bulk or verbatim string");
        }

        var length = int.Parse(Encoding.ASCII.GetString(bytes, 1, header - 2), NumberStyles.None, CultureInfo.InvariantCulture);
        var start = header + 1;
        if (bytes.Length != start + length + 2 || bytes[^2] != '\r' || bytes[^1] != '\n')
        {
            throw new InvalidDataException($"{name}: declared length {length} does not match the {bytes.Length} bytes on disk");
        }

        // A verbatim string starts with its three-letter format and a colon ("txt:").
        if (bytes[0] == '=')
        {
            start += 4;
            length -= 4;
        }

        return Encoding.UTF8.GetString(bytes, start, length);
    }
}
