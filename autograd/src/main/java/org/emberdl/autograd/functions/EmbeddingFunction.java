package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/**
 * The rows of a table picked by a 1-D index, as {@code torch.nn.functional.embedding}: backward
 * adds each gradient row back at its index, except at {@code paddingIdx}, whose row gets no
 * gradient (PyTorch's {@code embedding_backward} skips it), so a padding row keeps its value.
 */
public final class EmbeddingFunction {
  private EmbeddingFunction() {}

  /**
   * @param weight (num, dim)
   * @param index 1-D int32/int64 indices, already checked to be in {@code [0, num)}
   * @param paddingIdx the row that gets no gradient, in {@code [0, num)}, or -1 for none
   * @return (index.numel, dim)
   */
  public static Tensor lookup(Tensor weight, NDArray index, int paddingIdx) {
    if (paddingIdx < 0) {
      return IndexFunctions.indexSelect(weight, 0, index);
    }
    NDArray r = weight.data().indexSelect(0, index);
    if (!Function.isNeeded(weight)) {
      return Tensor.of(r);
    }
    int[] tableShape = weight.data().shape();
    return new Function("embedding", weight) {
      private final NDArray idx = save(index);

      @Override
      protected NDArray[] backward(NDArray grad) {
        NDArray full = NDArray.zeros(grad.dtype(), grad.device(), tableShape);
        try (NDArray column = idx.reshape(-1, 1);
            NDArray spread = column.expand(grad.shape())) {
          full.scatterAddInPlace(0, spread, grad);
        }
        // one row of zeros instead of masking every position's gradient before the scatter
        try (NDArray row = full.narrow(0, paddingIdx, 1)) {
          row.fill(0);
        }
        return new NDArray[] {full};
      }
    }.output(r);
  }
}
