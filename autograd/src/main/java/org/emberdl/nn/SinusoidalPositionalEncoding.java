package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * The fixed sinusoidal position encoding of "Attention Is All You Need" added to a batch-first
 * sequence: {@code pe[pos, 2i] = sin(pos / 10000^(2i / d))}, {@code pe[pos, 2i + 1] = cos(pos /
 * 10000^(2i / d))} (for odd d the last column is a sine). The table {@code (maxLen, d)} is computed
 * once in double precision; it is a constant, not a parameter, and not in the state dict (PyTorch's
 * {@code register_buffer(..., persistent=False)}): it is rebuilt from the sizes.
 *
 * <p>Input {@code (N, T, d)} (or {@code (T, d)}) with {@code T <= maxLen}; output the same shape.
 */
public class SinusoidalPositionalEncoding extends Module {
  private final int maxLen;
  private final int dim;
  private final NDArray table;

  /** A float32 table. */
  public SinusoidalPositionalEncoding(int maxLen, int dim) {
    this(maxLen, dim, DType.FLOAT32);
  }

  public SinusoidalPositionalEncoding(int maxLen, int dim, DType dtype) {
    if (maxLen <= 0 || dim <= 0) {
      throw new IllegalArgumentException(
          "SinusoidalPositionalEncoding sizes must be positive, got max_len="
              + maxLen
              + ", dim="
              + dim);
    }
    this.maxLen = maxLen;
    this.dim = dim;
    this.table = MemoryScope.detach(table(maxLen, dim, dtype));
  }

  /** The {@code (maxLen, dim)} table in {@code dtype}. */
  public static NDArray table(int maxLen, int dim, DType dtype) {
    double[] pe = new double[Math.multiplyExact(maxLen, dim)];
    for (int i = 0; i < dim; i += 2) {
      double freq = Math.pow(10000.0, -(double) i / dim);
      for (int pos = 0; pos < maxLen; pos++) {
        double angle = pos * freq;
        pe[pos * dim + i] = Math.sin(angle);
        if (i + 1 < dim) {
          pe[pos * dim + i + 1] = Math.cos(angle);
        }
      }
    }
    try (NDArray d = NDArray.of(pe, maxLen, dim)) {
      return d.cast(dtype);
    }
  }

  @Override
  public Tensor forward(Tensor input) {
    int t = PositionalInputs.check("SinusoidalPositionalEncoding", input, maxLen, dim);
    try (Tensor rows = Tensor.of(table.narrow(0, 0, t))) {
      return input.add(rows);
    }
  }

  /** The table (a view the caller closes). */
  public NDArray encoding() {
    return table.share();
  }

  public int maxLen() {
    return maxLen;
  }

  @Override
  public void close() {
    table.close();
    super.close();
  }

  @Override
  public String toString() {
    return "SinusoidalPositionalEncoding(" + maxLen + ", " + dim + ")";
  }
}
