package org.emberdl.nn;

import java.util.Arrays;
import java.util.OptionalInt;
import org.emberdl.autograd.Tensor;
import org.emberdl.autograd.functions.EmbeddingFunction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * A lookup table of {@code numEmbeddings} vectors of size {@code embeddingDim}, as {@code
 * torch.nn.Embedding}: parameter {@code weight} {@code (num, dim)}, initialized from {@code N(0,
 * 1)}. The gradient of a row is the sum over every position that looked it up, so a repeated index
 * accumulates.
 *
 * <p>With a {@code paddingIdx} (negative counts from the end, as in PyTorch), that row is zeroed at
 * initialization and never gets a gradient, so it stays what it was set to (zero unless loaded).
 *
 * <p>Input: a tensor of int64 (or int32) indices of any shape {@code S}; output {@code (S, dim)}.
 * An index outside {@code [0, num)} is an {@link IllegalArgumentException} naming the value and its
 * position.
 */
public class Embedding extends Module {
  private final int numEmbeddings;
  private final int embeddingDim;
  // normalized to [0, num), or -1 for none
  private final int paddingIdx;
  private final Parameter weight;

  /** A float32 table. */
  public Embedding(int numEmbeddings, int embeddingDim, Generator gen) {
    this(numEmbeddings, embeddingDim, DType.FLOAT32, gen);
  }

  /** A table in {@code dtype}. */
  public Embedding(int numEmbeddings, int embeddingDim, DType dtype, Generator gen) {
    this(numEmbeddings, embeddingDim, null, dtype, gen);
  }

  /**
   * A table in {@code dtype} whose row {@code paddingIdx} is zero and gets no gradient.
   *
   * @param paddingIdx in {@code [-num, num)}; negative counts from the end
   * @throws IllegalArgumentException for a paddingIdx outside that range
   */
  public Embedding(
      int numEmbeddings, int embeddingDim, int paddingIdx, DType dtype, Generator gen) {
    this(numEmbeddings, embeddingDim, Integer.valueOf(paddingIdx), dtype, gen);
  }

  /** With {@code paddingIdx} null for none. */
  Embedding(int numEmbeddings, int embeddingDim, Integer paddingIdx, DType dtype, Generator gen) {
    if (numEmbeddings <= 0 || embeddingDim <= 0) {
      throw new IllegalArgumentException(
          "Embedding sizes must be positive, got " + numEmbeddings + " x " + embeddingDim);
    }
    if (paddingIdx != null && (paddingIdx < -numEmbeddings || paddingIdx >= numEmbeddings)) {
      throw new IllegalArgumentException(
          "Embedding padding_idx must be in [-"
              + numEmbeddings
              + ", "
              + numEmbeddings
              + ") for "
              + numEmbeddings
              + " embeddings, got "
              + paddingIdx);
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx =
        paddingIdx == null ? -1 : paddingIdx < 0 ? paddingIdx + numEmbeddings : paddingIdx;
    this.weight =
        registerParameter("weight", Init.normal(gen, dtype, 0, 1, numEmbeddings, embeddingDim));
    if (this.paddingIdx >= 0) {
      // after the draw, as PyTorch's reset_parameters: the other rows match an unpadded table
      try (NDArray row = weight.data().narrow(0, this.paddingIdx, 1)) {
        row.fill(0);
      }
    }
  }

  /** {@code S -> (S, dim)}: row {@code indices[i]} of the table at each position {@code i}. */
  @Override
  public Tensor forward(Tensor indices) {
    return lookup(indices.data());
  }

  /**
   * This table's rows at {@code indices}; under an open {@link PerExampleCapture} the result also
   * carries the per-example norm rule of the lookup.
   */
  protected Tensor lookup(NDArray indices) {
    Tensor rows = embedding(indices, weight, paddingIdx);
    PerExampleCapture capture = PerExampleCapture.current();
    if (capture == null) {
      return rows;
    }
    try (rows) {
      return capture.embedding(this, indices, rows);
    }
  }

  /** {@link #embedding(NDArray, Tensor, int)} without a padding row. */
  public static Tensor embedding(NDArray indices, Tensor weight) {
    return embedding(indices, weight, -1);
  }

  /**
   * Functional lookup, as {@code torch.nn.functional.embedding}: the rows of the flattened indices,
   * reshaped to the indices' shape plus {@code dim}.
   *
   * @param indices int64 or int32 indices in {@code [0, num)}, any shape S
   * @param weight (num, dim)
   * @param paddingIdx the row that gets no gradient, in {@code [0, num)}, or -1 for none
   * @return (S, dim)
   * @throws IllegalArgumentException for non-integer indices, or one outside {@code [0, num)}
   *     (naming the first such value and its position)
   */
  public static Tensor embedding(NDArray indices, Tensor weight, int paddingIdx) {
    if (indices.dtype() != DType.INT64 && indices.dtype() != DType.INT32) {
      throw new IllegalArgumentException(
          "Embedding expects int64 or int32 indices, got " + indices.dtype());
    }
    TokenIds.checkRange(indices, weight.shape(0));
    int[] shape = indices.shape();
    int[] outShape = Arrays.copyOf(shape, shape.length + 1);
    outShape[shape.length] = weight.shape(1);
    try (NDArray flat = indices.reshape(-1);
        Tensor rows = EmbeddingFunction.lookup(weight, flat, paddingIdx)) {
      return rows.reshape(outShape);
    }
  }

  public Parameter weight() {
    return weight;
  }

  public int numEmbeddings() {
    return numEmbeddings;
  }

  public int embeddingDim() {
    return embeddingDim;
  }

  /** The padding row, in {@code [0, num)} (a negative padding_idx given is normalized). */
  public OptionalInt paddingIdx() {
    return paddingIdx < 0 ? OptionalInt.empty() : OptionalInt.of(paddingIdx);
  }

  @Override
  public String toString() {
    return "Embedding("
        + numEmbeddings
        + ", "
        + embeddingDim
        + (paddingIdx >= 0 ? ", padding_idx=" + paddingIdx : "")
        + ")";
  }
}
