package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Shape;

/**
 * Binary cross-entropy on logits, as {@code torch.nn.BCEWithLogitsLoss}: a sigmoid and BCE in one
 * numerically stable expression. For logit {@code x} and target {@code y} in [0, 1]:
 *
 * <pre>
 *   l = max(x, 0) - x * y + log1p(exp(-|x|))                   (= softplus(x) - x * y)
 *   l = (1 - y) * x + (1 + (p - 1) * y) * softplus(-x)          with pos_weight p
 * </pre>
 *
 * times the optional element weight, then reduced. {@code exp} only ever sees {@code -|x| <= 0}, so
 * {@code |x| = 1000} gives finite losses and gradients. {@code pos_weight} (shape (C), broadcast
 * over the last dim, or any shape broadcastable to the input) weighs the positive term, as in
 * PyTorch. Closing releases the weights, if any.
 */
public final class BCEWithLogitsLoss implements AutoCloseable {
  private final Reduction reduction;
  private final NDArray weight;
  private final NDArray posWeight;

  /** Mean reduction, no weights (PyTorch's defaults). */
  public BCEWithLogitsLoss() {
    this(Reduction.MEAN, null, null);
  }

  public BCEWithLogitsLoss(Reduction reduction) {
    this(reduction, null, null);
  }

  /**
   * @param weight per-element rescaling weight broadcastable to the input, or null
   * @param posWeight weight of positive examples, broadcastable to the input (typically (C)), or
   *     null
   */
  public BCEWithLogitsLoss(Reduction reduction, NDArray weight, NDArray posWeight) {
    if (reduction == null) {
      throw new IllegalArgumentException("reduction must not be null");
    }
    this.reduction = reduction;
    this.weight = weight == null ? null : MemoryScope.detach(weight.share());
    this.posWeight = posWeight == null ? null : MemoryScope.detach(posWeight.share());
  }

  /** The loss against constant targets in [0, 1] (converted to the input's dtype). */
  public Tensor apply(Tensor logits, NDArray target) {
    checkShape("target", logits.shape(), target.shape());
    NDArray t = target.dtype() == logits.dtype() ? target.share() : target.cast(logits.dtype());
    try (Tensor constant = Tensor.of(t)) {
      return apply(logits, constant);
    }
  }

  /** The loss against targets that may require grad ({@code dl/dy = -x} without pos_weight). */
  public Tensor apply(Tensor logits, Tensor target) {
    if (!logits.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException(
          "BCEWithLogitsLoss expects floating logits, got " + logits.dtype());
    }
    checkShape("target", logits.shape(), target.shape());
    if (weight != null) {
      checkBroadcast("weight", logits.shape(), weight.shape());
    }
    if (posWeight != null) {
      checkBroadcast("pos_weight", logits.shape(), posWeight.shape());
    }
    Tensor loss;
    try (Tensor sp = softplus(logits)) {
      if (posWeight == null) {
        try (Tensor xy = logits.mul(target)) {
          loss = sp.sub(xy);
        }
      } else {
        // softplus(-x) = softplus(x) - x; log-weight 1 + (p - 1) * y
        try (NDArray pm1 = posWeight.sub(1);
            Tensor pwMinusOne = Tensor.of(pm1.cast(logits.dtype()));
            Tensor scaled = target.mul(pwMinusOne);
            Tensor logWeight = scaled.add(1.0);
            Tensor spNeg = sp.sub(logits);
            Tensor positive = logWeight.mul(spNeg);
            Tensor oneMinusY = target.rsub(1.0);
            Tensor negative = oneMinusY.mul(logits)) {
          loss = negative.add(positive);
        }
      }
    }
    if (weight != null) {
      try (Tensor unweighted = loss;
          Tensor w = Tensor.of(weight.cast(logits.dtype()))) {
        return reduction.reduce(unweighted.mul(w));
      }
    }
    return reduction.reduce(loss);
  }

  /**
   * {@code log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))}, built so that its autograd gradient is
   * exactly {@code sigmoid(x)} everywhere: {@code |x|} and {@code max(x, 0) = (x + |x|) / 2} both
   * take the {@code x >= 0} branch at 0, where the subgradients of abs and relu (0) would give 0
   * instead of 1/2.
   */
  private static Tensor softplus(Tensor x) {
    try (NDArray nonNegative = x.data().ge(0);
        Tensor negX = x.neg();
        Tensor absX = Tensor.where(nonNegative, x, negX);
        Tensor sum = x.add(absX);
        Tensor relu = sum.mul(0.5);
        Tensor negAbs = absX.neg();
        Tensor e = negAbs.exp();
        Tensor tail = e.log1p()) {
      return relu.add(tail);
    }
  }

  public Reduction reduction() {
    return reduction;
  }

  /** Releases the weights, if any. */
  @Override
  public void close() {
    if (weight != null) {
      weight.close();
    }
    if (posWeight != null) {
      posWeight.close();
    }
  }

  private static void checkShape(String what, int[] input, int[] other) {
    if (!Arrays.equals(input, other)) {
      throw new IllegalArgumentException(
          "BCEWithLogitsLoss: "
              + what
              + " shape "
              + Arrays.toString(other)
              + " must equal the input shape "
              + Arrays.toString(input));
    }
  }

  private static void checkBroadcast(String what, int[] input, int[] other) {
    int[] b;
    try {
      b = Shape.broadcast(input, other);
    } catch (IllegalArgumentException e) {
      b = null;
    }
    if (b == null || !Arrays.equals(b, input)) {
      throw new IllegalArgumentException(
          "BCEWithLogitsLoss: "
              + what
              + " of shape "
              + Arrays.toString(other)
              + " does not broadcast to the input shape "
              + Arrays.toString(input));
    }
  }
}
