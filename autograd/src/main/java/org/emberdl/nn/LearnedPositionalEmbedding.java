package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;

/**
 * A learned position embedding added to a batch-first sequence: {@code x[:, t, :] + weight[t]} for
 * {@code t < T}, as {@code x + nn.Embedding(maxLen, d)(arange(T))} in PyTorch. Parameter {@code
 * weight} {@code (maxLen, d)}, initialized from {@code N(0, std^2)} (std 1 by default, {@code
 * nn.Embedding}'s init; ViT and BERT use 0.02).
 *
 * <p>Input {@code (N, T, d)} (or {@code (T, d)}) with {@code T <= maxLen}; output the same shape.
 */
public class LearnedPositionalEmbedding extends Module {
  private final int maxLen;
  private final int dim;
  private final Parameter weight;

  /** float32, {@code N(0, 1)}. */
  public LearnedPositionalEmbedding(int maxLen, int dim, Generator gen) {
    this(maxLen, dim, 1.0, DType.FLOAT32, gen);
  }

  /** Weights from {@code N(0, std^2)} in {@code dtype}. */
  public LearnedPositionalEmbedding(int maxLen, int dim, double std, DType dtype, Generator gen) {
    if (maxLen <= 0 || dim <= 0) {
      throw new IllegalArgumentException(
          "LearnedPositionalEmbedding sizes must be positive, got max_len="
              + maxLen
              + ", dim="
              + dim);
    }
    this.maxLen = maxLen;
    this.dim = dim;
    this.weight = registerParameter("weight", Init.normal(gen, dtype, 0, std, maxLen, dim));
  }

  @Override
  public Tensor forward(Tensor input) {
    int t = PositionalInputs.check("LearnedPositionalEmbedding", input, maxLen, dim);
    PerExampleCapture capture = PerExampleCapture.current();
    try (Tensor rows = weight.narrow(0, 0, t)) {
      if (capture == null || input.ndim() != 3) {
        if (capture != null) {
          capture.unbatched(this);
        }
        return input.add(rows);
      }
      // per example (the capture's norm rule): the rows broadcast over the batch explicitly
      try (Tensor perExample = rows.expand(input.shape(0), t, dim);
          Tensor tapped = capture.positions(this, perExample)) {
        return input.add(tapped);
      }
    }
  }

  public Parameter weight() {
    return weight;
  }

  public int maxLen() {
    return maxLen;
  }

  @Override
  public String toString() {
    return "LearnedPositionalEmbedding(" + maxLen + ", " + dim + ")";
  }
}
