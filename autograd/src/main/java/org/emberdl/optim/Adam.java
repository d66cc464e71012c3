package org.emberdl.optim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.nn.Module;
import org.emberdl.tensor.FusedOps;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.AdamStep;

/**
 * Adam, exactly {@code torch.optim.Adam} (without amsgrad): weight decay is an L2 term added to the
 * gradient. At step {@code t} with gradient {@code g}:
 *
 * <pre>
 *   g   = g + weightDecay * p
 *   m   = beta1 * m + (1 - beta1) * g                       (state "exp_avg")
 *   v   = beta2 * v + (1 - beta2) * g^2                     (state "exp_avg_sq")
 *   bc1 = 1 - beta1^t,   bc2 = 1 - beta2^t
 *   p   = p - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
 * </pre>
 *
 * The moments are flat buffers for the whole model, zero before the first step. {@link AdamW}
 * decouples the weight decay instead.
 */
public class Adam extends Optimizer {
  private double beta1;
  private double beta2;
  private double eps;
  private double weightDecay;
  private final boolean decoupled;

  /** PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay. */
  public Adam(Module module) {
    this(module, 1e-3);
  }

  public Adam(Module module, double lr) {
    this(module, lr, 0.9, 0.999, 1e-8, 0);
  }

  /**
   * @param lr learning rate, >= 0
   * @param beta1 decay of the first moment, in [0, 1)
   * @param beta2 decay of the second moment, in [0, 1)
   * @param eps added to the denominator, >= 0
   * @param weightDecay L2 penalty added to the gradient, >= 0
   */
  public Adam(
      Module module, double lr, double beta1, double beta2, double eps, double weightDecay) {
    this(module, lr, beta1, beta2, eps, weightDecay, false);
  }

  /** For {@link AdamW}: {@code decoupled} applies the decay to the weights, not the gradient. */
  Adam(
      Module module,
      double lr,
      double beta1,
      double beta2,
      double eps,
      double weightDecay,
      boolean decoupled) {
    super(module, lr);
    check(beta1, beta2, eps, weightDecay);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.decoupled = decoupled;
  }

  /** Options by name; unset ones keep {@code torch.optim.Adam}'s defaults. */
  public static Builder builder() {
    return new Builder();
  }

  private static void check(double beta1, double beta2, double eps, double weightDecay) {
    if (!(beta1 >= 0 && beta1 < 1)) {
      throw new IllegalArgumentException("invalid beta1 " + beta1 + " (must be in [0, 1))");
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("invalid beta2 " + beta2 + " (must be in [0, 1))");
    }
    if (!(eps >= 0)) {
      throw new IllegalArgumentException("invalid eps " + eps + " (must be >= 0)");
    }
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("invalid weight decay " + weightDecay + " (must be >= 0)");
    }
  }

  @Override
  protected void update(NDArray params, NDArray grad, long step) {
    // one fused pass over parameters, gradient and both moments (see AdamStep for the formulas)
    FusedOps.adam(
        params,
        grad,
        stateOrZeros("exp_avg"),
        stateOrZeros("exp_avg_sq"),
        new AdamStep(learningRate(), beta1, beta2, eps, weightDecay, decoupled, step));
  }

  @Override
  protected List<String> stateNames() {
    return List.of("exp_avg", "exp_avg_sq");
  }

  @Override
  protected Map<String, Double> hyperParameters() {
    Map<String, Double> h = new LinkedHashMap<>();
    h.put("beta1", beta1);
    h.put("beta2", beta2);
    h.put("eps", eps);
    h.put("weight_decay", weightDecay);
    return h;
  }

  @Override
  protected void setHyperParameters(Map<String, Double> values) {
    double b1 = values.get("beta1");
    double b2 = values.get("beta2");
    double e = values.get("eps");
    double wd = values.get("weight_decay");
    check(b1, b2, e, wd);
    beta1 = b1;
    beta2 = b2;
    eps = e;
    weightDecay = wd;
  }

  public double beta1() {
    return beta1;
  }

  public double beta2() {
    return beta2;
  }

  public double eps() {
    return eps;
  }

  public double weightDecay() {
    return weightDecay;
  }

  /**
   * Builds an {@link Adam}: {@code Adam.builder().lr(3e-4).weightDecay(1e-4).build(model)}; see
   * {@link AdamW#builder()} for decoupled decay.
   */
  public static class Builder {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weightDecay;

    Builder() {}

    public Builder lr(double value) {
      this.lr = value;
      return this;
    }

    public Builder betas(double b1, double b2) {
      this.beta1 = b1;
      this.beta2 = b2;
      return this;
    }

    public Builder eps(double value) {
      this.eps = value;
      return this;
    }

    public Builder weightDecay(double value) {
      this.weightDecay = value;
      return this;
    }

    public Adam build(Module module) {
      return new Adam(module, lr, beta1, beta2, eps, weightDecay);
    }
  }
}
