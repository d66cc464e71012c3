package org.emberdl.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.emberdl.federated.Update;

/**
 * How {@link BlockAllReduce} cuts an update into one chunk per partition and adds chunks up, kept
 * free of Spark so that it can be tested on its own.
 *
 * <p>An update is seen as one flat vector, its values followed by its buffers. Chunk {@code j} of
 * {@code P} covers {@code [start(j), start(j + 1))}: the first {@code n % P} chunks hold {@code n /
 * P + 1} elements, the others {@code n / P} (some are empty when {@code n < P}).
 *
 * <p>Determinism: {@link #sum} forms each element exactly as {@code Coordinator.sum} does through
 * {@link Update#add}: starting from {@code +0.0f} and adding partition 0, 1, ..., P-1 in that order
 * with one float addition each. Float addition is not associative, so any other order (a tree, the
 * order in which chunks arrive) would change the last bits; this order makes the chunked sum
 * bit-identical to the driver's sum of the whole updates. The scalars (examples, loss sum, correct)
 * are added in the same order, the loss sum as a double like {@code Update.add}.
 */
final class UpdateChunks {
  /** Bytes before a reduce-scatter chunk's floats: examples, loss sum, correct, float count. */
  static final int HEADER_BYTES = 8 + 8 + 8 + 4;

  private final int values;
  private final int buffers;
  private final int partitions;

  /**
   * @param values the length of an update's values
   * @param buffers the length of its buffers
   * @param partitions the number of chunks, one per partition
   */
  UpdateChunks(int values, int buffers, int partitions) {
    if (values < 0 || buffers < 0 || partitions < 1) {
      throw new IllegalArgumentException(
          "chunks of "
              + values
              + " values and "
              + buffers
              + " buffers over "
              + partitions
              + " partitions");
    }
    this.values = values;
    this.buffers = buffers;
    this.partitions = partitions;
  }

  int partitions() {
    return partitions;
  }

  /** The flat length, values plus buffers. */
  int length() {
    return values + buffers;
  }

  /** Where chunk {@code j} starts in the flat vector; {@code start(P)} is its length. */
  int start(int j) {
    int n = length();
    int base = n / partitions;
    int extra = n % partitions;
    return j * base + Math.min(j, extra);
  }

  int size(int j) {
    return start(j + 1) - start(j);
  }

  /** Chunk {@code j} of {@code u}'s flat vector, with its scalars, as a block's bytes. */
  ByteBuffer encode(Update u, int j) {
    check(u);
    int from = start(j);
    int n = size(j);
    ByteBuffer out = ByteBuffer.allocate(HEADER_BYTES + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(u.examples()).putDouble(u.lossSum()).putLong(u.correct()).putInt(n);
    out.asFloatBuffer().put(flat(u, from, n));
    out.position(0);
    return out;
  }

  /** A chunk of floats alone (an all-gather's block), as bytes. */
  static ByteBuffer encodeFloats(float[] chunk) {
    ByteBuffer out = ByteBuffer.allocate(4 + 4 * chunk.length).order(ByteOrder.LITTLE_ENDIAN);
    out.putInt(chunk.length);
    out.asFloatBuffer().put(chunk);
    out.position(0);
    return out;
  }

  /**
   * Reads a block written by {@link #encode}, checking that it holds {@code expected} floats.
   *
   * @param what names the block in the error
   */
  static Chunk decode(ByteBuffer bytes, int expected, String what) {
    ByteBuffer in = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    if (in.remaining() < HEADER_BYTES) {
      throw new IllegalStateException(what + " holds " + in.remaining() + " bytes, not a chunk");
    }
    long examples = in.getLong();
    double lossSum = in.getDouble();
    long correct = in.getLong();
    float[] floats = floats(in, expected, what);
    return new Chunk(floats, examples, lossSum, correct);
  }

  /** Reads a block written by {@link #encodeFloats}, checking its length. */
  static float[] decodeFloats(ByteBuffer bytes, int expected, String what) {
    return floats(bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN), expected, what);
  }

  private static float[] floats(ByteBuffer in, int expected, String what) {
    int n = in.getInt();
    if (n != expected || in.remaining() != 4L * n) {
      throw new IllegalStateException(
          what
              + " holds "
              + n
              + " floats in "
              + in.remaining()
              + " bytes where "
              + expected
              + " were expected; the tasks disagree on the update's size");
    }
    float[] out = new float[n];
    in.asFloatBuffer().get(out);
    return out;
  }

  /** Elements {@code [from, from + n)} of {@code u}'s values followed by its buffers, copied. */
  float[] flat(Update u, int from, int n) {
    float[] out = new float[n];
    int inValues = Math.max(0, Math.min(values - from, n));
    if (inValues > 0) {
      System.arraycopy(u.values(), from, out, 0, inValues);
    }
    if (n > inValues) {
      System.arraycopy(u.buffers(), from + inValues - values, out, inValues, n - inValues);
    }
    return out;
  }

  /**
   * The sum of chunk {@code j}'s contributions, given in partition order ({@code chunks[p]} from
   * partition {@code p}), formed as {@code Coordinator.sum} forms it.
   */
  static Chunk sum(Chunk[] chunks) {
    int n = chunks[0].floats().length;
    float[] acc = new float[n];
    long examples = 0;
    double lossSum = 0;
    long correct = 0;
    for (Chunk c : chunks) {
      float[] f = c.floats();
      for (int i = 0; i < n; i++) {
        acc[i] += f[i];
      }
      examples += c.examples();
      lossSum += c.lossSum();
      correct += c.correct();
    }
    return new Chunk(acc, examples, lossSum, correct);
  }

  /**
   * The update whose flat vector is {@code flat} (values then buffers) and whose scalars are {@code
   * scalars}'s. Its {@link Update#partitions()} is 1: {@code Update} has no way to set the count.
   */
  Update toUpdate(float[] flat, Chunk scalars) {
    if (flat.length != length()) {
      throw new IllegalArgumentException(
          "a flat update of " + flat.length + " floats where " + length() + " were expected");
    }
    float[] v = new float[values];
    float[] b = new float[buffers];
    System.arraycopy(flat, 0, v, 0, values);
    System.arraycopy(flat, values, b, 0, buffers);
    return new Update(v, b, scalars.examples(), scalars.lossSum(), scalars.correct());
  }

  private void check(Update u) {
    if (u.values().length != values || u.buffers().length != buffers) {
      throw new IllegalArgumentException(
          "an update of "
              + u.values().length
              + "+"
              + u.buffers().length
              + " floats where "
              + values
              + "+"
              + buffers
              + " were expected");
    }
  }

  /** One chunk of floats and the scalars of the update(s) it came from. */
  record Chunk(float[] floats, long examples, double lossSum, long correct) {}
}
