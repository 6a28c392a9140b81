using System.Buffers;
using System.Globalization;
using System.Text;
using ClusterGate.Core.Resp;
using ClusterGate.Core.UnitTests.Resp;

namespace ClusterGate.Core.UnitTests.Routing.Commands;

/// <summary>Builds parsed requests from a command line: arguments split on spaces, <c>""</c> is an empty argument.</summary>
internal static class TestRequests
{
    public static string[] Split(string line) =>
        [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(static a => a == "\"\"" ? string.Empty : a)];

    public static RespRequest Parse(string line, bool bytePerSegment = false)
    {
        var frame = Frame(Split(line));
        var sequence = bytePerSegment ? SegmentedSequence.BytePerSegment(frame) : new ReadOnlySequence<byte>(frame);
        var reader = new SequenceReader<byte>(sequence);
        var request = new RespRequest();
        var status = RespRequestParser.TryParse(ref reader, RespLimits.Default, request, out var error);
        if (status != RespScanStatus.Complete)
        {
            throw new InvalidOperationException($"'{line}' did not parse: {status} {error}");
        }

        return request;
    }

    public static byte[] Frame(IReadOnlyList<string> args)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"*{args.Count}\r\n");
        foreach (var arg in args)
        {
            text.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
