package org.emberdl.optim;

/**
 * A schedule whose learning rate is a function of the epoch and the base rate alone (PyTorch's
 * closed forms), so that it does not drift with rounding over many steps.
 */
abstract class ClosedFormLrScheduler implements LrScheduler {
  private final Optimizer optimizer;
  private final double baseLr;
  private int epoch;
  private double lastLr;

  ClosedFormLrScheduler(Optimizer optimizer) {
    if (optimizer == null) {
      throw new IllegalArgumentException("optimizer must not be null");
    }
    this.optimizer = optimizer;
    this.baseLr = optimizer.learningRate();
  }

  /** Sets epoch 0's rate; subclasses call it at the end of their constructor. */
  final void start() {
    apply(lrAt(0, baseLr));
  }

  /** The learning rate at {@code epoch}. */
  abstract double lrAt(int epoch, double baseLr);

  @Override
  public void step() {
    epoch++;
    apply(lrAt(epoch, baseLr));
  }

  final void apply(double lr) {
    optimizer.setLearningRate(lr);
    lastLr = lr;
  }

  @Override
  public double lastLr() {
    return lastLr;
  }

  @Override
  public int lastEpoch() {
    return epoch;
  }

  /** The optimizer's learning rate when this scheduler was built. */
  public double baseLr() {
    return baseLr;
  }
}
