package org.emberdl.optim;

/**
 * Multiplies the learning rate by {@code gamma} every {@code stepSize} epochs, as {@code
 * torch.optim.lr_scheduler.StepLR}: {@code lr(e) = baseLr * gamma^floor(e / stepSize)}. Call {@link
 * #step()} once per epoch (or per iteration, if {@code stepSize} counts iterations).
 */
public final class StepLr extends ClosedFormLrScheduler {
  private final int stepSize;
  private final double gamma;

  /** Decays by 0.1 (PyTorch's default) every {@code stepSize} epochs. */
  public StepLr(Optimizer optimizer, int stepSize) {
    this(optimizer, stepSize, 0.1);
  }

  public StepLr(Optimizer optimizer, int stepSize, double gamma) {
    super(optimizer);
    if (stepSize <= 0) {
      throw new IllegalArgumentException("stepSize must be > 0, got " + stepSize);
    }
    if (!(gamma >= 0) || Double.isInfinite(gamma)) {
      throw new IllegalArgumentException("gamma must be finite and >= 0, got " + gamma);
    }
    this.stepSize = stepSize;
    this.gamma = gamma;
    start();
  }

  @Override
  double lrAt(int epoch, double baseLr) {
    return baseLr * Math.pow(gamma, epoch / stepSize);
  }
}
