namespace ClusterGate.FailoverDrill;

/// <summary>Reads every acknowledged key back from the final master (pipelined, following MOVED/ASK).</summary>
internal static class Verifier
{
    private const int Batch = 512;

    /// <summary>Counts missing and wrong values into <paramref name="result"/>; returns the acks whose key was lost.</summary>
    public static List<Ack> Verify(string owner, List<Writer> writers, DrillResult result)
    {
        var lost = new List<Ack>();
        using var c = RespConnection.Connect(owner, TimeSpan.FromSeconds(10));
        foreach (var w in writers)
        {
            for (var i = 0; i < w.Acks.Count; i += Batch)
            {
                var end = Math.Min(w.Acks.Count, i + Batch);
                for (var j = i; j < end; j++)
                {
                    c.Append("GET", w.Key(w.Acks[j].Seq));
                }

                c.Flush();
                for (var j = i; j < end; j++)
                {
                    var ack = w.Acks[j];
                    var reply = c.Read();
                    if (reply.IsError && reply.ErrorKind is "MOVED" or "ASK")
                    {
                        reply = GetRedirected(w.Key(ack.Seq), reply, 5);
                    }

                    if (!Classify(reply, w.Value(ack.Seq), w.Key(ack.Seq), result))
                    {
                        lost.Add(ack);
                    }
                }
            }
        }

        result.Verified = writers.Sum(w => w.Acks.Count);
        return lost;
    }

    private static bool Classify(RespValue reply, string expected, string key, DrillResult result)
    {
        if (reply.Kind == RespKind.Null)
        {
            result.LostMissing++;
            AddLostSample(result, key + " missing");
            return false;
        }

        if (reply.Text != expected)
        {
            result.LostWrong++;
            AddLostSample(result, $"{key} = {reply}");
            return false;
        }

        return true;
    }

    private static void AddLostSample(DrillResult result, string sample)
    {
        if (result.LostSamples.Count < 5)
        {
            result.LostSamples.Add(sample);
        }
    }

    private static RespValue GetRedirected(string key, RespValue redirect, int hops)
    {
        while (hops-- > 0 && redirect.IsError && redirect.ErrorKind is "MOVED" or "ASK")
        {
            var parts = redirect.Line!.Split(' ');
            using var c = RespConnection.Connect(parts[2], TimeSpan.FromSeconds(2));
            if (redirect.ErrorKind == "ASK")
            {
                c.Execute("ASKING");
            }

            redirect = c.Execute("GET", key);
        }

        return redirect;
    }
}
