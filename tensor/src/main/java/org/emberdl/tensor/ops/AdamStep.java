package org.emberdl.tensor.ops;

/**
 * The hyper-parameters of one fused Adam/AdamW update (torch.optim.Adam's formulas):
 *
 * <pre>
 * g = grad + weightDecay * p           (L2, when !decoupled)
 * p = p * (1 - lr * weightDecay)       (AdamW, when decoupled)
 * m = m + (1 - beta1) * (g - m)
 * v = beta2 * v + (1 - beta2) * g * g
 * p = p - lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 * </pre>
 */
public record AdamStep(
    double lr,
    double beta1,
    double beta2,
    double eps,
    double weightDecay,
    boolean decoupled,
    long step) {
  public AdamStep {
    if (step < 1) {
      throw new IllegalArgumentException("Adam steps count from 1, got " + step);
    }
  }
}
