using System.Text;
using ClusterGate.Core.Routing;
using ClusterGate.Core.UnitTests.Resp;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace ClusterGate.Core.UnitTests.Routing;

public sealed class HashSlotTests
{
    [Fact]
    public void Crc16_CheckString_Is0x31C3()
    {
        Assert.Equal(0x31C3, HashSlot.Crc16("123456789"u8));
        Assert.Equal(0, HashSlot.Crc16([]));
    }

    [Theory]
    [InlineData("foo", 12182)]
    [InlineData("bar", 5061)]
    [InlineData("123456789", 0x31C3 & 16383)]
    public void Compute_DocumentedKeys_GiveRedisSlots(string key, int slot)
    {
        Assert.Equal(slot, HashSlot.Compute(Encoding.ASCII.GetBytes(key)));
    }

    [Theory]
    [InlineData("{user1000}.following", "user1000")]
    [InlineData("{user1000}.followers", "user1000")]
    [InlineData("foo{}{bar}", "foo{}{bar}")]
    [InlineData("foo{{bar}}zap", "{bar")]
    [InlineData("foo{bar}{zap}", "bar")]
    [InlineData("{}", "{}")]
    [InlineData("{", "{")]
    [InlineData("}{", "}{")]
    [InlineData("a{b", "a{b")]
    [InlineData("x{é}", "é")]
    public void Compute_HashTags_HashWhatRedisHashes(string key, string hashed)
    {
        byte[] hashedBytes = Encoding.UTF8.GetBytes(hashed);
        int expected = HashSlot.Crc16(hashedBytes) % HashSlot.SlotCount;

        Assert.Equal(expected, HashSlot.Compute(Encoding.UTF8.GetBytes(key)));
    }

    [Fact]
    public void Compute_SameTag_SameSlot()
    {
        Assert.Equal(HashSlot.Compute("{user1000}.following"u8), HashSlot.Compute("{user1000}.followers"u8));
        Assert.Equal(HashSlot.Compute("user1000"u8), HashSlot.Compute("{user1000}.followers"u8));
    }

    [Fact]
    public void Compute_MultiSegmentKey_EqualsSpan()
    {
        Gen<(byte[] Key, int[] Cuts)> input =
            from key in Gen.Choose(0, 24).SelectMany(n => Gen.ArrayOf(Gen.Elements("ab{}{}xyz0"u8.ToArray()), n))
            from cuts in Gen.ArrayOf(Gen.Choose(0, 24), 3)
            select (key, cuts);

        Property property = Prop.ForAll(Arb.From(input), test =>
            HashSlot.Compute(SegmentedSequence.Split(test.Key, test.Cuts)) == HashSlot.Compute(test.Key)
            && HashSlot.Compute(SegmentedSequence.BytePerSegment(test.Key)) == HashSlot.Compute(test.Key));

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), property);
    }
}
