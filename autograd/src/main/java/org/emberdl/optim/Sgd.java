package org.emberdl.optim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.nn.Module;
import org.emberdl.tensor.NDArray;

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight
 * decay: exactly {@code torch.optim.SGD}'s rule. At step {@code t} with gradient {@code g}:
 *
 * <pre>
 *   d = g + weightDecay * p
 *   if momentum != 0:
 *     b = d                                        (t = 1)
 *     b = momentum * b + (1 - dampening) * d       (t > 1)
 *     d = nesterov ? d + momentum * b : b
 *   p = p - lr * d
 * </pre>
 *
 * The momentum buffer {@code b} (state key {@code "momentum_buffer"}) is one flat buffer for the
 * whole model.
 */
public class Sgd extends Optimizer {
  private double momentum;
  private double dampening;
  private double weightDecay;
  private boolean nesterov;

  /** Plain SGD: {@code p -= lr * g}. */
  public Sgd(Module module, double lr) {
    this(module, lr, 0, 0, 0, false);
  }

  /** SGD with (heavy-ball) momentum. */
  public Sgd(Module module, double lr, double momentum) {
    this(module, lr, momentum, 0, 0, false);
  }

  /**
   * @param lr learning rate, >= 0
   * @param momentum momentum factor, >= 0 (0 = none)
   * @param dampening dampening of the gradient's share of the momentum, >= 0
   * @param weightDecay L2 penalty added to the gradient, >= 0
   * @param nesterov Nesterov momentum (needs momentum > 0 and dampening 0)
   */
  public Sgd(
      Module module,
      double lr,
      double momentum,
      double dampening,
      double weightDecay,
      boolean nesterov) {
    super(module, lr);
    check(momentum, dampening, weightDecay, nesterov);
    this.momentum = momentum;
    this.dampening = dampening;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
  }

  /** Options by name; unset ones keep {@code torch.optim.SGD}'s defaults (lr 1e-3). */
  public static Builder builder() {
    return new Builder();
  }

  private static void check(
      double momentum, double dampening, double weightDecay, boolean nesterov) {
    if (!(momentum >= 0)) {
      throw new IllegalArgumentException("invalid momentum " + momentum + " (must be >= 0)");
    }
    if (!(dampening >= 0)) {
      throw new IllegalArgumentException("invalid dampening " + dampening + " (must be >= 0)");
    }
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("invalid weight decay " + weightDecay + " (must be >= 0)");
    }
    if (nesterov && (momentum <= 0 || dampening != 0)) {
      throw new IllegalArgumentException(
          "Nesterov momentum needs momentum > 0 and dampening 0, got momentum "
              + momentum
              + ", dampening "
              + dampening);
    }
  }

  @Override
  protected void update(NDArray params, NDArray grad, long step) {
    NDArray d = grad;
    if (weightDecay != 0) {
      d = params.mul(weightDecay);
      d.addInPlace(grad);
    }
    if (momentum != 0) {
      NDArray buffer = state("momentum_buffer");
      if (buffer == null) {
        // PyTorch starts the buffer at the first gradient itself, undamped
        stateOrZeros("momentum_buffer").copyFrom(d);
        buffer = state("momentum_buffer");
      } else {
        buffer.mulInPlace(momentum).addInPlace(d, 1 - dampening);
      }
      if (nesterov) {
        NDArray look = buffer.mul(momentum);
        d = look.addInPlace(d);
      } else {
        d = buffer;
      }
    }
    params.addInPlace(d, -learningRate());
  }

  @Override
  protected List<String> stateNames() {
    return List.of("momentum_buffer");
  }

  @Override
  protected Map<String, Double> hyperParameters() {
    Map<String, Double> h = new LinkedHashMap<>();
    h.put("momentum", momentum);
    h.put("dampening", dampening);
    h.put("weight_decay", weightDecay);
    h.put("nesterov", nesterov ? 1.0 : 0.0);
    return h;
  }

  @Override
  protected void setHyperParameters(Map<String, Double> values) {
    double m = values.get("momentum");
    double damp = values.get("dampening");
    double wd = values.get("weight_decay");
    boolean nest = values.get("nesterov") != 0;
    check(m, damp, wd, nest);
    momentum = m;
    dampening = damp;
    weightDecay = wd;
    nesterov = nest;
  }

  public double momentum() {
    return momentum;
  }

  public double dampening() {
    return dampening;
  }

  public double weightDecay() {
    return weightDecay;
  }

  public boolean nesterov() {
    return nesterov;
  }

  /** Builds an {@link Sgd}: {@code Sgd.builder().lr(0.1).momentum(0.9).build(model)}. */
  public static final class Builder {
    private double lr = 1e-3;
    private double momentum;
    private double dampening;
    private double weightDecay;
    private boolean nesterov;

    private Builder() {}

    public Builder lr(double value) {
      this.lr = value;
      return this;
    }

    public Builder momentum(double value) {
      this.momentum = value;
      return this;
    }

    public Builder dampening(double value) {
      this.dampening = value;
      return this;
    }

    public Builder weightDecay(double value) {
      this.weightDecay = value;
      return this;
    }

    public Builder nesterov(boolean value) {
      this.nesterov = value;
      return this;
    }

    public Sgd build(Module module) {
      return new Sgd(module, lr, momentum, dampening, weightDecay, nesterov);
    }
  }
}
