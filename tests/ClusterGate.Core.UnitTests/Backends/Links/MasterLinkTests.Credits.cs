using Xunit;

namespace ClusterGate.Core.UnitTests.Backends.Links;

/// <summary>Credits: the client loop waits at the in-flight limit and the pump hands credits back as replies come.</summary>
public sealed partial class MasterLinkTests
{
    [Fact]
    public async Task WaitForCreditAsync_CreditsGivenBackWhileTheClientWaits_EveryWaitEnds()
    {
        // A client that sends as soon as it has room keeps the link at its limit (16), and a node that answers each
        // command on its own makes the pump give credits back one at a time: the client's wait and the pump's give-back
        // cross about a thousand times. A wake-up lost between them leaves a wait with nothing left to end it.
        const int Total = 16_000;
        const string Reply = "$1\r\nv\r\n";
        _directory.Publish(A);
        StartPump();
        await SendAsync(Get);
        var node = await _connector.OpenedAsync(0);
        var serving = Task.Run(async () =>
        {
            for (var i = 0; i < Total; i++)
            {
                await node.ExpectAsync(Get.Text);
                await node.ReplyAsync(Reply);
            }
        });
        var draining = Task.Run(async () =>
        {
            for (var i = 0; i < Total; i++)
            {
                await _client.ExpectAsync(Reply);
            }
        });

        var sent = 1;
        while (sent < Total)
        {
            await _link.WaitForCreditAsync().AsTask().WaitAsync(Bound);
            var room = Math.Min(_link.Room, Total - sent);
            Assert.True(room > 0, "a wait for credit ended with no room");
            await SendAsync([.. Enumerable.Repeat(Get, room)]);
            sent += room;
        }

        await Task.WhenAll(serving, draining).WaitAsync(Bound * 4);
        await EventuallyAsync(() => _link.Room == 16, "every credit back");
        await EndAsync();
    }
}
