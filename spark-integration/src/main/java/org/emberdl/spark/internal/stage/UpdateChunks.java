package org.emberdl.spark.internal.stage;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
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

  /** Floats summed per pass over a tile (16 KB, in the first-level cache). */
  private static final int TILE = 4096;

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
    FloatBuffer floats = out.asFloatBuffer();
    int inValues = Math.max(0, Math.min(values - from, n));
    if (inValues > 0) {
      floats.put(u.values(), from, inValues);
    }
    if (n > inValues) {
      floats.put(u.buffers(), from + inValues - values, n - inValues);
    }
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
   * A view of a block written by {@link #encode} (its floats are not copied), checked to hold
   * {@code expected} floats.
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
    return new Chunk(floats(in, expected, what), examples, lossSum, correct);
  }

  /**
   * A view of a block written by {@link #encodeFloats}, checked to hold {@code expected} floats.
   */
  static FloatBuffer decodeFloats(ByteBuffer bytes, int expected, String what) {
    return floats(bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN), expected, what);
  }

  private static FloatBuffer floats(ByteBuffer in, int expected, String what) {
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
    return in.asFloatBuffer();
  }

  /** Elements {@code [from, from + n)} of {@code u}'s values followed by its buffers, copied. */
  float[] flat(Update u, int from, int n) {
    return flat(u.values(), u.buffers(), from, n);
  }

  /**
   * Chunk {@code j} of {@code values} followed by {@code buffers}, copied: what the driver sends
   * task {@code j} of the new weights ({@code RoundWeights}' values and buffers), for the tasks to
   * all-gather.
   */
  float[] chunk(float[] values, float[] buffers, int j) {
    if (values.length != this.values || buffers.length != this.buffers) {
      throw new IllegalArgumentException(
          values.length
              + "+"
              + buffers.length
              + " floats where "
              + this.values
              + "+"
              + this.buffers
              + " were expected");
    }
    return flat(values, buffers, start(j), size(j));
  }

  private float[] flat(float[] values, float[] buffers, int from, int n) {
    float[] out = new float[n];
    int inValues = Math.max(0, Math.min(this.values - from, n));
    if (inValues > 0) {
      System.arraycopy(values, from, out, 0, inValues);
    }
    if (n > inValues) {
      System.arraycopy(buffers, from + inValues - this.values, out, inValues, n - inValues);
    }
    return out;
  }

  /**
   * The whole sum from its chunks, {@code shards[j]} formed by partition {@code j} (on the driver,
   * from the tasks' reduce-scatter results): the floats are placed, not added, so the result is
   * bit-identical to {@code Coordinator.sum} of the whole updates. The scalars are the same in
   * every shard (every task adds all partitions' scalars in partition order); they are checked.
   *
   * @throws IllegalArgumentException when a shard is missing, of the wrong size, or its scalars
   *     differ from shard 0's
   */
  Update assemble(Summed[] shards) {
    if (shards.length != partitions) {
      throw new IllegalArgumentException(
          shards.length + " shards of the sum where " + partitions + " were expected");
    }
    float[] v = new float[values];
    float[] b = new float[buffers];
    for (int j = 0; j < partitions; j++) {
      Summed s = shards[j];
      if (s == null || s.floats().length != size(j)) {
        throw new IllegalArgumentException(
            "partition "
                + j
                + "'s shard of the sum "
                + (s == null ? "is missing" : "has " + s.floats().length + " floats")
                + " where "
                + size(j)
                + " were expected");
      }
      if (s.examples() != shards[0].examples()
          || Double.doubleToRawLongBits(s.lossSum())
              != Double.doubleToRawLongBits(shards[0].lossSum())
          || s.correct() != shards[0].correct()) {
        throw new IllegalArgumentException(
            "partition "
                + j
                + "'s shard of the sum has other totals than partition 0's: "
                + s
                + " vs "
                + shards[0]);
      }
      place(FloatBuffer.wrap(s.floats()), j, v, b);
    }
    Summed first = shards[0];
    return new Update(v, b, first.examples(), first.lossSum(), first.correct());
  }

  /**
   * The sum of chunk {@code j}'s contributions, given in partition order ({@code chunks[p]} from
   * partition {@code p}), formed as {@code Coordinator.sum} forms it: each element starts at {@code
   * +0.0f} and adds partition 0, 1, ... in turn. The views are read a tile at a time into a small
   * scratch array (so the blocks' bytes are not copied whole), which leaves that order unchanged.
   */
  static Summed sum(Chunk[] chunks) {
    int n = chunks[0].floats().remaining();
    float[] acc = new float[n];
    float[] tile = new float[Math.min(n, TILE)];
    long examples = 0;
    double lossSum = 0;
    long correct = 0;
    for (Chunk c : chunks) {
      FloatBuffer f = c.floats().duplicate();
      for (int at = 0; at < n; at += TILE) {
        int len = Math.min(TILE, n - at);
        f.get(tile, 0, len);
        for (int i = 0; i < len; i++) {
          acc[at + i] += tile[i];
        }
      }
      examples += c.examples();
      lossSum += c.lossSum();
      correct += c.correct();
    }
    return new Summed(acc, examples, lossSum, correct);
  }

  /**
   * Copies {@code src} (chunk {@code j}'s floats of the flat vector) into {@code values} and {@code
   * buffers}, where chunk {@code j} lies.
   */
  void place(FloatBuffer src, int j, float[] values, float[] buffers) {
    FloatBuffer f = src.duplicate();
    int from = start(j);
    int n = size(j);
    int inValues = Math.max(0, Math.min(this.values - from, n));
    if (inValues > 0) {
      f.get(values, from, inValues);
    }
    if (n > inValues) {
      f.get(buffers, from + inValues - this.values, n - inValues);
    }
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

  /** One partition's contribution to a chunk: a view of its floats, and its update's scalars. */
  record Chunk(FloatBuffer floats, long examples, double lossSum, long correct) {
    /**
     * Partition's own contribution to chunk {@code j}: a view of {@code u}, copied if straddling.
     */
    static Chunk own(UpdateChunks chunks, Update u, int j) {
      int from = chunks.start(j);
      int n = chunks.size(j);
      FloatBuffer floats;
      if (from + n <= chunks.values) {
        floats = FloatBuffer.wrap(u.values(), from, n).slice();
      } else if (from >= chunks.values) {
        floats = FloatBuffer.wrap(u.buffers(), from - chunks.values, n).slice();
      } else {
        floats = FloatBuffer.wrap(chunks.flat(u, from, n));
      }
      return new Chunk(floats, u.examples(), u.lossSum(), u.correct());
    }
  }

  /** A chunk of the sum, and the scalars of the whole sum. */
  record Summed(float[] floats, long examples, double lossSum, long correct)
      implements Serializable {
    @Override
    public String toString() {
      return "Summed[floats="
          + floats.length
          + ", examples="
          + examples
          + ", lossSum="
          + lossSum
          + ", correct="
          + correct
          + "]";
    }
  }
}
