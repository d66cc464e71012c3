package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Cross-entropy between logits and class indices, as {@code torch.nn.CrossEntropyLoss}: {@code
 * log_softmax} over the class dim followed by {@link NLLLoss}, optionally with label smoothing.
 *
 * <p>For logits {@code x} of shape (N, C) (or (N, C, d1, ...), or unbatched (C)) and int64/int32
 * targets {@code y} of shape (N) (or (N, d1, ...), or ()), with {@code lp = log_softmax(x, 1)},
 * smoothing {@code eps} and class weights {@code w} (all 1 by default):
 *
 * <pre>
 *   l_n = (1 - eps) * w[y_n] * (-lp[n, y_n])  +  eps / C * sum_c w[c] * (-lp[n, c])
 * </pre>
 *
 * so without weights the smoothing term is {@code eps} times the mean over classes of {@code -lp}.
 * Elements whose target equals {@code ignoreIndex} (default -100) contribute 0. {@link
 * Reduction#MEAN} (the default) divides the sum by {@code sum_n w[y_n]} over non-ignored elements,
 * i.e. by N without weights. The gradient comes from autograd through the ops above.
 *
 * <p>A loss with a class weight holds a reference to it until {@link #close()}; without one,
 * closing is a no-op.
 */
public final class CrossEntropyLoss implements AutoCloseable {
  /** PyTorch's default {@code ignore_index}. */
  public static final long DEFAULT_IGNORE_INDEX = -100;

  private final Reduction reduction;
  private final double labelSmoothing;
  private final NDArray weight;
  private final long ignoreIndex;

  /** Mean reduction, no smoothing, no weights (PyTorch's defaults). */
  public CrossEntropyLoss() {
    this(Reduction.MEAN);
  }

  public CrossEntropyLoss(Reduction reduction) {
    this(reduction, 0.0, null, DEFAULT_IGNORE_INDEX);
  }

  private CrossEntropyLoss(
      Reduction reduction, double labelSmoothing, NDArray weight, long ignoreIndex) {
    if (reduction == null) {
      throw new IllegalArgumentException("reduction must not be null");
    }
    if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
      throw new IllegalArgumentException("labelSmoothing must be in [0, 1), got " + labelSmoothing);
    }
    if (weight != null && (weight.ndim() != 1 || !weight.dtype().isFloatingPoint())) {
      throw new IllegalArgumentException(
          "weight must be a 1-D floating array (one per class), got "
              + weight.dtype()
              + java.util.Arrays.toString(weight.shape()));
    }
    this.reduction = reduction;
    this.labelSmoothing = labelSmoothing;
    // a reference of our own, outside any scope, so the caller may close theirs
    this.weight = weight == null ? null : MemoryScope.detach(weight.share());
    this.ignoreIndex = ignoreIndex;
  }

  /** Options beyond the defaults: reduction, label smoothing, class weights, ignore index. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The loss of {@code logits} (N, C, ...) against class indices {@code target} (N, ...).
   *
   * @throws IllegalArgumentException when the target is not int64/int32, the shapes do not match,
   *     or a target value is outside [0, C) and not the ignore index (the message names it)
   */
  public Tensor apply(Tensor logits, NDArray target) {
    return ClassIndexLoss.apply(
        "CrossEntropyLoss", logits, target, weight, ignoreIndex, labelSmoothing, reduction, true);
  }

  public Reduction reduction() {
    return reduction;
  }

  public double labelSmoothing() {
    return labelSmoothing;
  }

  public long ignoreIndex() {
    return ignoreIndex;
  }

  /** Releases the class weight, if any. */
  @Override
  public void close() {
    if (weight != null) {
      weight.close();
    }
  }

  /** Builds a {@link CrossEntropyLoss}; unset options keep PyTorch's defaults. */
  public static final class Builder {
    private Reduction reduction = Reduction.MEAN;
    private double labelSmoothing;
    private NDArray weight;
    private long ignoreIndex = DEFAULT_IGNORE_INDEX;

    private Builder() {}

    public Builder reduction(Reduction value) {
      this.reduction = value;
      return this;
    }

    /** Smoothing {@code eps} in [0, 1): the target becomes {@code (1 - eps) one_hot + eps / C}. */
    public Builder labelSmoothing(double value) {
      this.labelSmoothing = value;
      return this;
    }

    /** Per-class weights, shape (C); the loss keeps its own reference (see {@link #close()}). */
    public Builder weight(NDArray value) {
      this.weight = value;
      return this;
    }

    /** Target value whose elements contribute nothing (and do not count in the mean). */
    public Builder ignoreIndex(long value) {
      this.ignoreIndex = value;
      return this;
    }

    public CrossEntropyLoss build() {
      return new CrossEntropyLoss(reduction, labelSmoothing, weight, ignoreIndex);
    }
  }
}
