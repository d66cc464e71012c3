package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;

/**
 * Attention masks, as PyTorch writes them: a bool mask is {@code true} where attending is NOT
 * allowed (a padded key, a future position); a floating mask is added to the scaled scores ({@code
 * -inf} forbids, 0 allows, anything else biases). {@link #causal} is {@code
 * nn.Transformer.generate_square_subsequent_mask}; {@link #additive} merges an attention mask and a
 * key padding mask into the one additive array the softmax takes.
 */
public final class AttentionMasks {
  private AttentionMasks() {}

  /**
   * The causal mask of {@code size} positions, as {@code
   * nn.Transformer.generate_square_subsequent_mask(size)}: {@code (size, size)}, 0 on and below the
   * diagonal and {@code -inf} above it, so position i attends to positions 0..i only.
   */
  public static NDArray causal(int size, DType dtype) {
    if (size <= 0) {
      throw new IllegalArgumentException("causal mask size must be positive, got " + size);
    }
    if (!dtype.isFloatingPoint()) {
      throw new IllegalArgumentException("a causal (additive) mask needs a floating dtype");
    }
    double[] v = new double[size * size];
    for (int i = 0; i < size; i++) {
      Arrays.fill(v, i * size + i + 1, (i + 1) * size, Double.NEGATIVE_INFINITY);
    }
    try (NDArray d = NDArray.of(v, size, size)) {
      return dtype == DType.FLOAT64 ? d.share() : d.cast(dtype);
    }
  }

  /**
   * The key padding mask of right-padded sequences of {@code lengths[i]} steps out of {@code
   * steps}: {@code (N, steps)}, 0 inside each sequence and {@code -inf} past its end, so no query
   * attends to padding (PyTorch's bool {@code key_padding_mask}, in additive form).
   */
  public static NDArray keyPadding(int[] lengths, int steps, DType dtype) {
    if (!dtype.isFloatingPoint()) {
      throw new IllegalArgumentException("a key padding (additive) mask needs a floating dtype");
    }
    double[] v = new double[lengths.length * steps];
    for (int i = 0; i < lengths.length; i++) {
      Arrays.fill(v, i * steps + lengths[i], (i + 1) * steps, Double.NEGATIVE_INFINITY);
    }
    try (NDArray d = NDArray.of(v, lengths.length, steps)) {
      return dtype == DType.FLOAT64 ? d.share() : d.cast(dtype);
    }
  }

  /**
   * The key padding mask for a batch-first {@code (N, T, E)} input {@code x} of right-padded
   * sequences of {@code lengths[i]} steps: what a {@link VariableLength} attention layer passes on.
   *
   * @param who names the layer in the errors
   * @throws IllegalArgumentException when the layer is not batch-first or a length is outside [1,
   *     T]
   */
  static NDArray keyPadding(String who, boolean batchFirst, Tensor x, int[] lengths) {
    if (!batchFirst || x.ndim() != 3) {
      throw new IllegalArgumentException(
          who
              + " takes sequence lengths only batch-first, on (N, T, E) input; got "
              + (batchFirst ? "" : "batch_first=false and ")
              + "shape "
              + Arrays.toString(x.shape()));
    }
    Lengths.check(who, x, lengths);
    return keyPadding(lengths, x.shape(1), x.dtype());
  }

  /** A float32 {@link #causal(int, DType)} mask. */
  public static NDArray causal(int size) {
    return causal(size, DType.FLOAT32);
  }

  /**
   * The additive mask for scores shaped {@code (batch, heads, tq, tk)}: the attention mask ({@code
   * (tq, tk)} or {@code (batch * heads, tq, tk)}) plus the key padding mask ({@code (batch, tk)}),
   * each converted from bool ({@code true} -> {@code -inf}) where needed, in {@code dtype}. The
   * result broadcasts to the scores ({@code (1 or batch, 1 or heads, tq or 1, tk)}); null when both
   * masks are null.
   *
   * @throws IllegalArgumentException naming the mask whose shape or dtype does not fit
   */
  static NDArray additive(
      NDArray attnMask,
      NDArray keyPaddingMask,
      int batch,
      int heads,
      int tq,
      int tk,
      DType dtype,
      Device device) {
    NDArray attn = null;
    NDArray pad = null;
    try {
      if (attnMask != null) {
        int[] s = attnMask.shape();
        int[] as4;
        if (s.length == 2 && s[0] == tq && s[1] == tk) {
          as4 = new int[] {1, 1, tq, tk};
        } else if (s.length == 3 && s[0] == batch * heads && s[1] == tq && s[2] == tk) {
          as4 = new int[] {batch, heads, tq, tk};
        } else {
          throw new IllegalArgumentException(
              "attn_mask must be (L, S) = ("
                  + tq
                  + ", "
                  + tk
                  + ") or (N * num_heads, L, S) = ("
                  + batch * heads
                  + ", "
                  + tq
                  + ", "
                  + tk
                  + "), got "
                  + Arrays.toString(s));
        }
        attn = toAdditive(attnMask, "attn_mask", dtype, device, as4);
      }
      if (keyPaddingMask != null) {
        int[] s = keyPaddingMask.shape();
        if (s.length != 2 || s[0] != batch || s[1] != tk) {
          throw new IllegalArgumentException(
              "key_padding_mask must be (N, S) = ("
                  + batch
                  + ", "
                  + tk
                  + ") (true = a padded key to ignore), got "
                  + Arrays.toString(s));
        }
        pad = toAdditive(keyPaddingMask, "key_padding_mask", dtype, device, batch, 1, 1, tk);
      }
      if (attn == null || pad == null) {
        NDArray only = attn != null ? attn : pad;
        attn = null;
        pad = null;
        return only;
      }
      return attn.add(pad);
    } finally {
      if (attn != null) {
        attn.close();
      }
      if (pad != null) {
        pad.close();
      }
    }
  }

  /** {@code mask} reshaped to {@code shape}, as an additive array in {@code dtype}. */
  private static NDArray toAdditive(
      NDArray mask, String name, DType dtype, Device device, int... shape) {
    if (!mask.device().equals(device)) {
      throw new IllegalArgumentException(
          name + " is on " + mask.device() + " but the attention runs on " + device);
    }
    try (NDArray m = mask.reshape(shape)) {
      if (mask.dtype() == DType.BOOL) {
        try (NDArray zero = NDArray.full(dtype, device, 0);
            NDArray inf = NDArray.full(dtype, device, Double.NEGATIVE_INFINITY)) {
          return NDArray.where(m, inf, zero);
        }
      }
      if (mask.dtype().isFloatingPoint()) {
        return m.cast(dtype);
      }
    }
    throw new IllegalArgumentException(
        name
            + " must be bool (true = ignore) or floating (added to the scores), got "
            + mask.dtype());
  }
}
