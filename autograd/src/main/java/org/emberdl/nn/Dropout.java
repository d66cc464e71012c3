package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * Inverted dropout, as {@code torch.nn.Dropout}: in training mode each element is zeroed with
 * probability {@code p} and the survivors are scaled by {@code 1 / (1 - p)}, so the expected output
 * equals the input and evaluation needs no rescaling; in eval mode it is the identity.
 *
 * <p>Masks come from this module's {@link Generator}, which advances with every training-mode call:
 * the same seed and the same sequence of calls give the same masks. A Spark task gives the module
 * its own (seed, round, partition) stream with {@link #setGenerator} so a retried task redraws
 * exactly the masks of the failed attempt.
 */
public class Dropout extends Module {
  private final double p;
  private Generator generator;

  /**
   * @param p probability of zeroing an element, in [0, 1]
   * @param gen the source of the masks
   */
  public Dropout(double p, Generator gen) {
    if (!(p >= 0 && p <= 1)) {
      throw new IllegalArgumentException(
          "dropout probability has to be between 0 and 1, but got " + p);
    }
    this.p = p;
    this.generator = java.util.Objects.requireNonNull(gen, "gen");
  }

  /** Draws the following masks from {@code gen} (e.g. {@link Generator#forTask}). */
  public void setGenerator(Generator gen) {
    this.generator = java.util.Objects.requireNonNull(gen, "gen");
  }

  public Generator generator() {
    return generator;
  }

  public double p() {
    return p;
  }

  /**
   * Any shape to the same shape: in training, {@code input * mask / (1 - p)} with {@code mask ~
   * Bernoulli(1 - p)}; in eval, or with {@code p = 0}, a new tensor sharing input's values.
   */
  @Override
  public Tensor forward(Tensor input) {
    return dropout(input, p, isTraining(), generator);
  }

  /**
   * Functional dropout, as {@code torch.nn.functional.dropout}. The result is always a new tensor
   * (never {@code input} itself), so the caller may close it independently. With {@code p = 1} the
   * output is all zeros and nothing is drawn.
   */
  public static Tensor dropout(Tensor input, double p, boolean training, Generator gen) {
    if (!(p >= 0 && p <= 1)) {
      throw new IllegalArgumentException(
          "dropout probability has to be between 0 and 1, but got " + p);
    }
    if (!training || p == 0) {
      return Identity.of(input);
    }
    if (p == 1) {
      // as PyTorch: input * 0, so the gradient is zero and NaN/inf still propagate
      return input.mul(0.0);
    }
    NDArray mask = NDArray.bernoulli(gen, 1 - p, input.dtype(), input.shape());
    try (Tensor m = Tensor.of(mask.mulInPlace(1.0 / (1 - p)))) {
      return input.mul(m);
    }
  }

  @Override
  public String toString() {
    return "Dropout(p=" + Repr.num(p) + ", inplace=False)";
  }
}
