package org.emberdl.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FixedPointCodecTest {
  @Test
  void encodesByRoundingToTheGrid() {
    FixedPointCodec c = new FixedPointCodec(4, 24);
    assertEquals(25_165_824L, c.encode(1.5)); // 1.5 * 2^24
    assertEquals(-4_194_304L, c.encode(-0.25)); // -2^22
    assertEquals(67_108_864L, c.encode(4)); // the range itself is allowed: 2^26
    assertEquals(1L, c.encode(0x1p-25)); // 0.5 rounds up
    assertEquals(0L, c.encode(-0x1p-25)); // -0.5 rounds up too (Math.round)
    assertEquals(2L, c.encode(0x1.8p-24)); // 1.5 -> 2
    assertEquals(67_108_864L, c.maxEncoded());
    assertEquals(0x1p-25 * 10, c.sumErrorBound(10));
  }

  @Test
  void sumsDecodeExactlyEvenWhenPartialSumsWrap() {
    // Range 1 at f = 61: M = 2^61, and floor((2^63 - 1) / 2^61) = 3 clients fit. Masked partial
    // sums wrap around 2^64; the total is 1.25 * 2^61 all the same.
    FixedPointCodec c = new FixedPointCodec(1, 61);
    assertEquals(3, c.maxClients());
    long a = c.encode(1);
    long b = c.encode(1);
    long d = c.encode(-0.75);
    long mask = 0x7654_3210_fedc_ba98L;
    long sum = (a + mask) + (b - mask) + d;
    assertArrayEquals(new float[] {1.25f}, c.decode(new long[] {sum}));
  }

  @Test
  void valuesOutsideTheRangeThrowNamingValueAndRange() {
    FixedPointCodec c = new FixedPointCodec(4, 24);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> c.encode(new float[] {0, 1, 4.5f}, null, new long[3]));
    assertTrue(e.getMessage().contains("value 4.5 at index 2"), e.getMessage());
    assertTrue(e.getMessage().contains("[-4.0, 4.0]"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> c.encode(-4.000001));
    assertThrows(IllegalArgumentException.class, () -> c.encode(Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> c.encode(Double.POSITIVE_INFINITY));
    // Noise counts: 3.5 + 0.75 is out of range.
    IllegalArgumentException noisy =
        assertThrows(
            IllegalArgumentException.class,
            () -> c.encode(new float[] {3.5f}, new double[] {0.75}, new long[1]));
    assertTrue(noisy.getMessage().contains("4.25"), noisy.getMessage());
  }

  @Test
  void capacityIsCheckedAgainstTheRing() {
    // R = 2^30 at f = 24: M = 2^54, and floor((2^63 - 1) / 2^54) = 511 clients fit.
    FixedPointCodec c = new FixedPointCodec(0x1p30, 24);
    assertEquals(511, c.maxClients());
    c.checkCapacity(511);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> c.checkCapacity(512));
    assertTrue(e.getMessage().contains("512 clients"), e.getMessage());
    assertTrue(e.getMessage().contains("[-1.073741824E9, 1.073741824E9]"), e.getMessage());
    assertTrue(e.getMessage().contains("at most 511"), e.getMessage());
    // A single value must fit too.
    assertThrows(IllegalArgumentException.class, () -> new FixedPointCodec(0x1p40, 23));
  }

  @Test
  void forClientsPicksTheMostFractionalBitsThatFit() {
    // R = 1: n * 2^f <= 2^63 - 1. n = 1000: 2^53 * 1000 < 2^63 (1023 fit), 2^54 * 1000 does not.
    assertEquals(53, FixedPointCodec.forClients(1, 1000).fractionalBits());
    // n = 100: 2^56 * 100 < 2^63 (127 fit), 2^57 * 100 > 2^63 (63 fit).
    assertEquals(56, FixedPointCodec.forClients(1, 100).fractionalBits());
    // R = 5, n = 10: 5 * 10 * 2^f <= 2^63 - 1 -> 2^f <= 1.84e17 -> f = 57 (2^57 = 1.44e17).
    assertEquals(57, FixedPointCodec.forClients(5, 10).fractionalBits());
    assertThrows(IllegalArgumentException.class, () -> FixedPointCodec.forClients(0x1p62, 4));
  }
}
