package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Negative log-likelihood of class indices given log-probabilities, as {@code torch.nn.NLLLoss}.
 * For {@code lp} of shape (N, C) (or (N, C, d1, ...), or (C)) and targets {@code y} of shape (N)
 * (or (N, d1, ...), or ()):
 *
 * <pre>
 *   l_n = -w[y_n] * lp[n, y_n]          (0 where y_n == ignoreIndex)
 * </pre>
 *
 * {@link Reduction#MEAN} (the default) divides {@code sum_n l_n} by {@code sum_n w[y_n]} over the
 * non-ignored elements. Feed it {@code logSoftmax(1)} of logits, or use {@link CrossEntropyLoss}
 * which does both. Closing releases the class weight, if any.
 */
public final class NLLLoss implements AutoCloseable {
  private final Reduction reduction;
  private final NDArray weight;
  private final long ignoreIndex;

  /** Mean reduction, no weights, ignore index -100 (PyTorch's defaults). */
  public NLLLoss() {
    this(Reduction.MEAN);
  }

  public NLLLoss(Reduction reduction) {
    this(reduction, null, CrossEntropyLoss.DEFAULT_IGNORE_INDEX);
  }

  /**
   * @param weight per-class weights of shape (C), or null; the loss keeps its own reference
   * @param ignoreIndex target value that contributes nothing
   */
  public NLLLoss(Reduction reduction, NDArray weight, long ignoreIndex) {
    if (reduction == null) {
      throw new IllegalArgumentException("reduction must not be null");
    }
    if (weight != null && (weight.ndim() != 1 || !weight.dtype().isFloatingPoint())) {
      throw new IllegalArgumentException(
          "weight must be a 1-D floating array (one per class), got "
              + weight.dtype()
              + java.util.Arrays.toString(weight.shape()));
    }
    this.reduction = reduction;
    this.weight = weight == null ? null : MemoryScope.detach(weight.share());
    this.ignoreIndex = ignoreIndex;
  }

  /**
   * The loss of {@code logProbs} (N, C, ...) against class indices {@code target} (N, ...).
   *
   * @throws IllegalArgumentException when the target is not int64/int32, the shapes do not match,
   *     or a target value is outside [0, C) and not the ignore index (the message names it)
   */
  public Tensor apply(Tensor logProbs, NDArray target) {
    return ClassIndexLoss.apply(
        "NLLLoss", logProbs, target, weight, ignoreIndex, 0.0, reduction, false);
  }

  public Reduction reduction() {
    return reduction;
  }

  /** Releases the class weight, if any. */
  @Override
  public void close() {
    if (weight != null) {
      weight.close();
    }
  }
}
