package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * A lookup table of {@code numEmbeddings} vectors of size {@code embeddingDim}, as {@code
 * torch.nn.Embedding}: parameter {@code weight} {@code (num, dim)}, initialized from {@code N(0,
 * 1)}. The gradient of a row is the sum over every position that looked it up, so a repeated index
 * accumulates.
 *
 * <p>Input: a tensor of int64 (or int32) indices of any shape {@code S}; output {@code (S, dim)}.
 */
public class Embedding extends Module {
  private final int numEmbeddings;
  private final int embeddingDim;
  private final Parameter weight;

  /** A float32 table. */
  public Embedding(int numEmbeddings, int embeddingDim, Generator gen) {
    this(numEmbeddings, embeddingDim, DType.FLOAT32, gen);
  }

  /** A table in {@code dtype}. */
  public Embedding(int numEmbeddings, int embeddingDim, DType dtype, Generator gen) {
    if (numEmbeddings <= 0 || embeddingDim <= 0) {
      throw new IllegalArgumentException(
          "Embedding sizes must be positive, got " + numEmbeddings + " x " + embeddingDim);
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.weight =
        registerParameter("weight", Init.normal(gen, dtype, 0, 1, numEmbeddings, embeddingDim));
  }

  /** {@code S -> (S, dim)}: row {@code indices[i]} of the table at each position {@code i}. */
  @Override
  public Tensor forward(Tensor indices) {
    return embedding(indices.data(), weight);
  }

  /**
   * Functional lookup, as {@code torch.nn.functional.embedding}: {@code indexSelect} of the
   * flattened indices, reshaped to the indices' shape plus {@code dim}.
   *
   * @param indices int64 or int32 indices in {@code [0, num)}, any shape S
   * @param weight (num, dim)
   * @return (S, dim)
   */
  public static Tensor embedding(NDArray indices, Tensor weight) {
    if (indices.dtype() != DType.INT64 && indices.dtype() != DType.INT32) {
      throw new IllegalArgumentException(
          "Embedding expects int64 or int32 indices, got " + indices.dtype());
    }
    int[] shape = indices.shape();
    int[] outShape = Arrays.copyOf(shape, shape.length + 1);
    outShape[shape.length] = weight.shape(1);
    try (NDArray flat = indices.reshape(-1);
        Tensor rows = weight.indexSelect(0, flat)) {
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

  @Override
  public String toString() {
    return "Embedding(" + numEmbeddings + ", " + embeddingDim + ")";
  }
}
