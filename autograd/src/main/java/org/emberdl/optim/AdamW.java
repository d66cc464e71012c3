package org.emberdl.optim;

import org.emberdl.nn.Module;

/**
 * Adam with decoupled weight decay, exactly {@code torch.optim.AdamW}: the weights shrink by {@code
 * lr * weightDecay} before the Adam step, and the decay never enters the moments:
 *
 * <pre>
 *   p   = p * (1 - lr * weightDecay)
 *   m   = beta1 * m + (1 - beta1) * g,    v = beta2 * v + (1 - beta2) * g^2
 *   p   = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * </pre>
 */
public class AdamW extends Adam {
  /** PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2. */
  public AdamW(Module module) {
    this(module, 1e-3);
  }

  public AdamW(Module module, double lr) {
    this(module, lr, 0.9, 0.999, 1e-8, 1e-2);
  }

  /**
   * @param lr learning rate, >= 0
   * @param beta1 decay of the first moment, in [0, 1)
   * @param beta2 decay of the second moment, in [0, 1)
   * @param eps added to the denominator, >= 0
   * @param weightDecay decoupled decay coefficient, >= 0
   */
  public AdamW(
      Module module, double lr, double beta1, double beta2, double eps, double weightDecay) {
    super(module, lr, beta1, beta2, eps, weightDecay, true);
  }

  /** Options by name; unset ones keep {@code torch.optim.AdamW}'s defaults (weight decay 1e-2). */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds an {@link AdamW}. */
  public static final class Builder extends Adam.Builder {
    private Builder() {
      weightDecay = 1e-2;
    }

    @Override
    public Builder lr(double value) {
      super.lr(value);
      return this;
    }

    @Override
    public Builder betas(double b1, double b2) {
      super.betas(b1, b2);
      return this;
    }

    @Override
    public Builder eps(double value) {
      super.eps(value);
      return this;
    }

    @Override
    public Builder weightDecay(double value) {
      super.weightDecay(value);
      return this;
    }

    @Override
    public AdamW build(Module module) {
      return new AdamW(module, lr, beta1, beta2, eps, weightDecay);
    }
  }
}
