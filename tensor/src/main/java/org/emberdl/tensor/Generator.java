package org.emberdl.tensor;

import org.emberdl.tensor.random.Philox;

/**
 * A seeded source of random arrays: a {@link Philox} counter-based generator keyed by (seed,
 * stream) plus a position in its word sequence that advances with every draw, like PyTorch's {@code
 * torch.Generator}. Because Philox is counter-based, a draw depends only on (seed, stream,
 * position), never on threads: the same sequence of calls gives the same arrays on any machine.
 *
 * <p>For Spark tasks, {@link #forTask} derives one stream per (round, partition), so a retried task
 * draws exactly what the failed attempt drew.
 */
public final class Generator {
  private final Philox philox;
  private long wordOffset;

  public Generator(long seed) {
    this(seed, 0);
  }

  public Generator(long seed, long stream) {
    this.philox = new Philox(seed, stream);
  }

  /**
   * The generator of one task: stream {@code round << 32 | partition}, so no two (round, partition)
   * pairs below 2^31 partitions share a stream.
   */
  public static Generator forTask(long seed, long round, int partition) {
    if (round < 0 || partition < 0) {
      throw new IllegalArgumentException("round and partition must be >= 0");
    }
    return new Generator(seed, (round << 32) | partition);
  }

  public long seed() {
    return philox.seed();
  }

  public long stream() {
    return philox.stream();
  }

  /** Words of the Philox sequence consumed so far. */
  public synchronized long position() {
    return wordOffset;
  }

  /** Moves to word {@code position} of the sequence (to replay or skip draws). */
  public synchronized void setPosition(long position) {
    if (position < 0) {
      throw new IllegalArgumentException("position must be >= 0, got " + position);
    }
    this.wordOffset = position;
  }

  Philox philox() {
    return philox;
  }

  /**
   * Reserves {@code n} values for one fill and returns the value offset to pass to the Philox
   * method that {@code kind} and {@code dtype} select. Each method reads a fixed number of words
   * per value (and normals come in pairs), so offsets are aligned to keep draws disjoint.
   */
  synchronized long reserve(long n, Backend.RandomKind kind, DType dtype) {
    boolean wide = dtype == DType.FLOAT64;
    int wordsPerValue =
        switch (kind) {
          case UNIFORM, NORMAL -> wide ? 2 : 1;
          case INTEGERS -> 2;
          case BERNOULLI -> 1;
        };
    int valueAlign = kind == Backend.RandomKind.NORMAL ? 2 : 1;
    long value = ceilDiv(wordOffset, wordsPerValue);
    value = ceilDiv(value, valueAlign) * valueAlign;
    long count = ceilDiv(n, valueAlign) * valueAlign;
    wordOffset = (value + count) * wordsPerValue;
    return value;
  }

  /**
   * Reserves the values of one normal fill of {@code n} values of {@code dtype} (float32 or
   * float64), exactly as {@code NDArray.normal(this, dtype, mean, std, n)} would, and returns the
   * value offset of the first: {@code new Philox(seed(), stream()).normal(offset, out, 0, n, mean,
   * std)} (the float overload for float32, with {@code (float) mean, (float) std}) then computes
   * the same values on any thread. DP-SGD draws its noise off the critical path this way.
   */
  public long reserveNormal(long n, DType dtype) {
    if (dtype != DType.FLOAT32 && dtype != DType.FLOAT64) {
      throw new IllegalArgumentException("reserveNormal needs float32 or float64, got " + dtype);
    }
    if (n < 0) {
      throw new IllegalArgumentException("n must be >= 0, got " + n);
    }
    return reserve(n, Backend.RandomKind.NORMAL, dtype);
  }

  /** A permutation of {@code 0..n-1}, advancing the position by the words it reads. */
  synchronized int[] permutation(int n) {
    int[] perm = philox.permutation(n, wordOffset);
    wordOffset += Math.max(0, n - 1);
    return perm;
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
