package org.emberdl.arrow;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * Scans of Arrow validity bitmaps (bit {@code i} of byte {@code i / 8}, least significant first; 1
 * means valid). Whole 64-bit words are compared at once, so a bitmap without nulls costs one load
 * per 64 values.
 */
final class Validity {
  private Validity() {}

  /**
   * The first null in bits {@code [from, end)}, or -1 when every bit is set. The bitmap must cover
   * {@code end} bits ({@link #requireCovers}).
   */
  static long nextNull(ArrowBuf bits, long from, long end) {
    // Raw loads: requireCovers has bounds-checked the whole range once. ArrowBuf's checked getLong
    // per word took 2.5-3x as long (ArrowBridgeBenchmark.wrapScan: 29 ms -> 12 ms at 1M x 784).
    long base = bits.memoryAddress();
    long i = from;
    // Bits before the first whole word, one by one.
    while (i < end && (i & 63) != 0) {
      if (!isSet(base, i)) {
        return i;
      }
      i++;
    }
    while (end - i >= 64) {
      long word = MemoryUtil.getLong(base + (i >>> 3));
      if (word != -1L) {
        // Bit k of byte b is bit 8b + k of a little-endian word.
        long le = MemoryUtil.LITTLE_ENDIAN ? word : Long.reverseBytes(word);
        return i + Long.numberOfTrailingZeros(~le);
      }
      i += 64;
    }
    while (i < end) {
      if (!isSet(base, i)) {
        return i;
      }
      i++;
    }
    return -1;
  }

  /** Bit {@code index}; the bitmap must cover it. */
  static boolean isSet(ArrowBuf bits, long index) {
    return ((bits.getByte(index >>> 3) >>> (index & 7)) & 1) != 0;
  }

  private static boolean isSet(long base, long index) {
    return ((MemoryUtil.getByte(base + (index >>> 3)) >>> (index & 7)) & 1) != 0;
  }

  /** Throws when the bitmap of {@code column} is too short for {@code bitCount} bits. */
  static void requireCovers(String column, String what, ArrowBuf bits, long bitCount) {
    long needed = (bitCount + 7) / 8;
    if (bits.capacity() < needed) {
      throw ArrowImportException.column(
          column,
          what
              + " validity bitmap has "
              + bits.capacity()
              + " bytes but "
              + bitCount
              + " entries need "
              + needed);
    }
  }
}
