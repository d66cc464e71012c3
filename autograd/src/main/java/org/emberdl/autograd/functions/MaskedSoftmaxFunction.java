package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.FusedOps;
import org.emberdl.tensor.NDArray;

/**
 * The attention softmax as one recorded op: {@code y = softmax(scale * x + mask)} along the last
 * dim, with {@code mask} an additive constant (0 where attending is allowed, {@code -inf} where it
 * is not, or any finite bias) broadcast to {@code x}'s shape. Recording it as one node instead of a
 * scale, an add and a softmax keeps one saved array (y) instead of three, and its backward is one
 * rule: {@code dx = scale * y * (g - sum(g * y))} (the mask is a constant and gets no gradient).
 *
 * <p>Rows where every entry is masked ({@code -inf}) come out as NaN, as in PyTorch 1.13's {@code
 * multi_head_attention_forward}: the max subtracted for stability is itself {@code -inf}.
 */
public final class MaskedSoftmaxFunction extends Function {
  private final NDArray y;
  private final double scale;

  private MaskedSoftmaxFunction(Tensor x, NDArray y, double scale) {
    super("maskedSoftmax", x);
    this.y = save(y);
    this.scale = scale;
  }

  /**
   * {@code softmax(scale * x + mask, -1)}.
   *
   * @param x the raw scores, any shape with at least one dim
   * @param scale multiplies x before the mask is added (attention's {@code 1 / sqrt(head_dim)})
   * @param mask an additive mask broadcastable to x's shape, or null for none
   */
  public static Tensor apply(Tensor x, double scale, NDArray mask) {
    NDArray y = forward(x.data(), scale, mask);
    if (!isNeeded(x)) {
      return Tensor.of(y);
    }
    try {
      return new MaskedSoftmaxFunction(x, y, scale).output(y);
    } catch (RuntimeException e) {
      y.close();
      throw e;
    }
  }

  /** The forward values alone, {@code softmax(scale * x + mask, -1)}, as a new array. */
  static NDArray forward(NDArray x, double scale, NDArray mask) {
    if (mask == null) {
      // the scale goes into the fused kernel: no scratch logits at all
      return FusedOps.softmaxLastDim(x, scale);
    }
    // one scratch array for the logits: scaled, then the mask added in place
    try (NDArray logits = x.mul(scale)) {
      logits.addInPlace(mask);
      return FusedOps.softmaxLastDim(logits, 1);
    }
  }

  @Override
  protected NDArray[] backward(NDArray grad) {
    return new NDArray[] {FusedOps.softmaxLastDimBackward(grad, y, scale)};
  }
}
