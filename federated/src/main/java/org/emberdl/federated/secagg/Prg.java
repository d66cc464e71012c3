package org.emberdl.federated.secagg;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The pseudorandom generator: the AES-256-CTR keystream of a 32-byte key, counter block starting at
 * zero, read as little-endian 64-bit words. Each key is derived for exactly one stream (see {@link
 * Hkdf}), so a fixed initial counter never repeats a keystream.
 *
 * <p>AES-CTR rather than ChaCha20 because the JDK 17 C2 compiler has AES-NI intrinsics for CTR
 * mode: about 2 to 5 GB/s once compiled on the development machine, against about 0.3 GB/s for the
 * JDK's pure-Java ChaCha20, and masks are the dominant cost (one 8-byte word per coordinate per
 * peer). Without C2 (e.g. {@code -XX:TieredStopAtLevel=1}) both are slow. Not thread-safe.
 */
final class Prg {
  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final int CHUNK_BYTES = 1 << 16;

  private final Cipher cipher;
  private final byte[] zeros = new byte[CHUNK_BYTES];
  private final byte[] buffer = new byte[CHUNK_BYTES];
  private int position = CHUNK_BYTES;

  Prg(byte[] key) {
    if (key.length != 32) {
      throw new IllegalArgumentException("PRG key must be 32 bytes, got " + key.length);
    }
    try {
      cipher = Cipher.getInstance("AES/CTR/NoPadding");
      cipher.init(
          Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(new byte[16]));
    } catch (GeneralSecurityException e) {
      throw Hkdf.unexpected(e);
    }
  }

  /** Adds (or subtracts) the keystream of {@code key}, word by word, into {@code acc} mod 2^64. */
  static void addMask(byte[] key, long[] acc, boolean subtract) {
    Prg prg = new Prg(key);
    int wordsPerChunk = CHUNK_BYTES / 8;
    for (int start = 0; start < acc.length; start += wordsPerChunk) {
      int n = Math.min(wordsPerChunk, acc.length - start);
      prg.keystream(n * 8);
      byte[] b = prg.buffer;
      if (subtract) {
        for (int i = 0; i < n; i++) {
          acc[start + i] -= (long) LONGS.get(b, i * 8);
        }
      } else {
        for (int i = 0; i < n; i++) {
          acc[start + i] += (long) LONGS.get(b, i * 8);
        }
      }
    }
  }

  /** The first {@code n} words of the keystream of {@code key}. */
  static long[] words(byte[] key, int n) {
    long[] out = new long[n];
    addMask(key, out, false);
    return out;
  }

  /** The next 64 bits of the stream. */
  long nextLong() {
    if (position > CHUNK_BYTES - 8) {
      refill();
    }
    long v = (long) LONGS.get(buffer, position);
    position += 8;
    return v;
  }

  /** Fills {@code out} from the stream. */
  void nextBytes(byte[] out) {
    int done = 0;
    while (done < out.length) {
      if (position == CHUNK_BYTES) {
        refill();
      }
      int n = Math.min(out.length - done, CHUNK_BYTES - position);
      System.arraycopy(buffer, position, out, done, n);
      position += n;
      done += n;
    }
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  double nextDouble() {
    return (nextLong() >>> 11) * 0x1p-53;
  }

  private void refill() {
    keystream(CHUNK_BYTES);
    position = 0;
  }

  /** Writes the next {@code bytes} bytes of keystream to the start of the buffer. */
  private void keystream(int bytes) {
    try {
      int n = cipher.update(zeros, 0, bytes, buffer, 0);
      if (n != bytes) {
        throw new IllegalStateException("AES-CTR returned " + n + " bytes, expected " + bytes);
      }
    } catch (ShortBufferException e) {
      throw Hkdf.unexpected(e);
    }
  }
}
