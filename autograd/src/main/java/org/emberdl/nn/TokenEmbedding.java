package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * An {@link Embedding} that also takes its token ids as floats: the first layer of a network whose
 * input arrives on the float data plane (a Spark stage feeds every feature column as float32, which
 * holds every integer id below 2^24 exactly). Float ids must be whole numbers; they are converted
 * to int64 before the lookup. Integer ids are looked up as they are. State dict: {@code weight}, as
 * {@code torch.nn.Embedding}.
 */
public class TokenEmbedding extends Embedding {
  /** The largest vocabulary whose ids float32 holds exactly: 2^24. */
  public static final int MAX_FLOAT_VOCABULARY = 1 << 24;

  /**
   * @param paddingIdx the padding row, or null for none
   */
  public TokenEmbedding(int numEmbeddings, int embeddingDim, Integer paddingIdx, Generator gen) {
    super(numEmbeddings, embeddingDim, paddingIdx, DType.FLOAT32, gen);
  }

  @Override
  public Tensor forward(Tensor ids) {
    if (!ids.dtype().isFloatingPoint()) {
      return super.forward(ids);
    }
    try (NDArray longs = toLongIds(ids.data())) {
      return lookup(longs);
    }
  }

  /**
   * Float ids as int64, checked to be whole numbers.
   *
   * @throws IllegalArgumentException naming the first id that is not a whole number, and where
   */
  static NDArray toLongIds(NDArray ids) {
    NDArray longs = ids.cast(DType.INT64);
    boolean whole;
    try (NDArray back = longs.cast(ids.dtype());
        NDArray same = back.eq(ids);
        NDArray all = same.all()) {
      whole = all.item() != 0;
    }
    if (whole) {
      return longs;
    }
    longs.close();
    double[] values = ids.toDoubleArray();
    for (int i = 0; i < values.length; i++) {
      if (values[i] != Math.rint(values[i]) || Double.isInfinite(values[i])) {
        throw new IllegalArgumentException(
            "token id "
                + values[i]
                + " at position "
                + TokenIds.position(i, ids.shape())
                + " of the input (shape "
                + java.util.Arrays.toString(ids.shape())
                + ") is not a whole number; token ids must be integers");
      }
    }
    // a whole number beyond the int64 range
    throw new IllegalArgumentException(
        "token ids of shape " + java.util.Arrays.toString(ids.shape()) + " overflow int64");
  }
}
