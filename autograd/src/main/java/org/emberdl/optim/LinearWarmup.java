package org.emberdl.optim;

/**
 * Linear warmup, then another schedule: PyTorch's {@code SequentialLR([LinearLR(opt, start_factor,
 * total_iters=warmupSteps), then], milestones=[warmupSteps])}. For step {@code t} (the number of
 * {@link #step()} calls so far):
 *
 * <pre>
 *   lr(t) = baseLr * (startFactor + (1 - startFactor) * t / warmupSteps)     t &lt; warmupSteps
 *   lr(t) = then's rate at its own step t - warmupSteps                        t &gt;= warmupSteps
 * </pre>
 *
 * so the rate climbs from {@code startFactor * baseLr} to {@code baseLr} and {@code then} starts at
 * its step 0 exactly when the warmup ends. With {@code then == null} the rate stays at {@code
 * baseLr}. Warmup is usually counted in iterations: call {@link #step()} after every optimizer
 * step, and give {@code then} its length in iterations too.
 *
 * <p>Build {@code then} first (for example in the argument list): every scheduler sets its step-0
 * rate when built and remembers the optimizer's rate at that moment as its base, so {@code then}
 * must see the base rate, not the warmup's first value.
 */
public final class LinearWarmup implements LrScheduler {
  /** The default {@code startFactor}, PyTorch's {@code LinearLR} default. */
  public static final double DEFAULT_START_FACTOR = 1.0 / 3;

  private final Optimizer optimizer;
  private final int warmupSteps;
  private final double startFactor;
  private final LrScheduler then;
  private final double baseLr;
  private int epoch;
  private double lastLr;

  /** Warms up from {@code 1/3} of the base rate (PyTorch's {@code LinearLR} default). */
  public LinearWarmup(Optimizer optimizer, int warmupSteps, LrScheduler then) {
    this(optimizer, DEFAULT_START_FACTOR, warmupSteps, then);
  }

  /**
   * @param startFactor fraction of the base rate at step 0, in (0, 1]
   * @param warmupSteps steps until the full base rate, > 0
   * @param then the schedule after warmup, or null to stay at the base rate
   */
  public LinearWarmup(Optimizer optimizer, double startFactor, int warmupSteps, LrScheduler then) {
    if (optimizer == null) {
      throw new IllegalArgumentException("optimizer must not be null");
    }
    if (!(startFactor > 0 && startFactor <= 1)) {
      throw new IllegalArgumentException("startFactor must be in (0, 1], got " + startFactor);
    }
    if (warmupSteps <= 0) {
      throw new IllegalArgumentException("warmupSteps must be > 0, got " + warmupSteps);
    }
    this.optimizer = optimizer;
    this.startFactor = startFactor;
    this.warmupSteps = warmupSteps;
    this.then = then;
    this.baseLr = optimizer.learningRate();
    apply(warmupRate(0, warmupSteps, startFactor, baseLr));
  }

  @Override
  public void step() {
    epoch++;
    if (epoch < warmupSteps) {
      apply(warmupRate(epoch, warmupSteps, startFactor, baseLr));
    } else if (then == null) {
      apply(baseLr);
    } else if (epoch == warmupSteps) {
      // hand over: the next schedule's step-0 rate, which it set when it was built
      apply(then.lastLr());
    } else {
      then.step();
      lastLr = then.lastLr();
    }
  }

  /**
   * The warmup's rate at step {@code t < warmupSteps}: {@code baseLr * (startFactor + (1 -
   * startFactor) * t / warmupSteps)}, what this scheduler sets after {@code t} calls of {@link
   * #step()}. For code that derives the rate from a step number (see {@link
   * CosineAnnealingLr#rate}); from step {@code warmupSteps} on, the schedule that follows applies.
   */
  public static double warmupRate(long t, int warmupSteps, double startFactor, double baseLr) {
    return baseLr * (startFactor + (1 - startFactor) * t / warmupSteps);
  }

  private void apply(double lr) {
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
}
