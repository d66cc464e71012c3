package org.emberdl.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PrgTest {
  private static byte[] key0to31() {
    byte[] key = new byte[32];
    for (int i = 0; i < 32; i++) {
      key[i] = (byte) i;
    }
    return key;
  }

  @Test
  void wordsAreTheLittleEndianAes256CtrKeystream() {
    // Python cryptography: AES(key=00..1f) in CTR mode, counter block 0, encrypting zeros; words
    // read little-endian as signed 64-bit.
    long[] w = Prg.words(key0to31(), 8193);
    assertEquals(-3413929544732602126L, w[0]);
    assertEquals(-9189824986115017815L, w[1]);
    assertEquals(-1900596787321348624L, w[2]);
    // Either side of the 64 KiB chunk boundary.
    assertEquals(-7573923026720665168L, w[8191]);
    assertEquals(6895757977642975607L, w[8192]);
  }

  @Test
  void streamReadsAgreeWithWordsAndSubtractUndoesAdd() {
    byte[] key = key0to31();
    Prg prg = new Prg(key);
    long[] w = Prg.words(key, 10_000);
    for (int k = 0; k < 10_000; k++) {
      assertEquals(w[k], prg.nextLong(), "word " + k);
    }
    long[] acc = new long[10_000];
    for (int k = 0; k < acc.length; k++) {
      acc[k] = k * 31L;
    }
    long[] before = acc.clone();
    Prg.addMask(key, acc, false);
    Prg.addMask(key, acc, true);
    assertArrayEquals(before, acc);
  }
}
