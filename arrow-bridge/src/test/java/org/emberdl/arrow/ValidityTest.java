package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.apache.arrow.memory.ArrowBuf;
import org.junit.jupiter.api.Test;

/** The word-at-a-time null scan against a bit-by-bit oracle. */
class ValidityTest extends ArrowTestBase {

  @Test
  void nextNullMatchesABitByBitScan() {
    Random rnd = new Random(1);
    try (ArrowBuf bits = arrow.buffer(64)) { // 512 bits
      for (int trial = 0; trial < 200; trial++) {
        bits.setOne(0, 64);
        int nulls = rnd.nextInt(4);
        for (int k = 0; k < nulls; k++) {
          int at = rnd.nextInt(512);
          bits.setByte(at >>> 3, bits.getByte(at >>> 3) & ~(1 << (at & 7)));
        }
        long from = rnd.nextInt(512);
        long end = from + rnd.nextInt((int) (512 - from) + 1);
        assertEquals(oracle(bits, from, end), Validity.nextNull(bits, from, end));
      }
    }
  }

  @Test
  void aShortBitmapIsAnErrorNamingTheColumn() {
    try (ArrowBuf bits = arrow.buffer(2)) {
      ArrowImportException e =
          assertThrows(
              ArrowImportException.class, () -> Validity.requireCovers("x", "row", bits, 17));
      assertEquals(
          "column 'x': row validity bitmap has 2 bytes but 17 entries need 3", e.getMessage());
    }
  }

  private static long oracle(ArrowBuf bits, long from, long end) {
    for (long i = from; i < end; i++) {
      if ((bits.getByte(i >>> 3) & (1 << (i & 7))) == 0) {
        return i;
      }
    }
    return -1;
  }
}
