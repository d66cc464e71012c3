package org.emberdl.optim;

/**
 * Cosine annealing from the base rate down to {@code etaMin} over {@code tMax} epochs, as {@code
 * torch.optim.lr_scheduler.CosineAnnealingLR} (its closed form, without restarts):
 *
 * <pre>
 *   lr(e) = etaMin + (baseLr - etaMin) * (1 + cos(pi * e / tMax)) / 2
 * </pre>
 *
 * so {@code lr(0) = baseLr}, {@code lr(tMax / 2)} is the midpoint and {@code lr(tMax) = etaMin};
 * past {@code tMax} the cosine continues (the rate rises again), as in PyTorch. Call {@link
 * #step()} once per epoch, or once per iteration with {@code tMax} in iterations.
 */
public final class CosineAnnealingLr extends ClosedFormLrScheduler {
  private final int tMax;
  private final double etaMin;

  /** Anneals to 0 (PyTorch's default {@code eta_min}). */
  public CosineAnnealingLr(Optimizer optimizer, int tMax) {
    this(optimizer, tMax, 0);
  }

  public CosineAnnealingLr(Optimizer optimizer, int tMax, double etaMin) {
    super(optimizer);
    if (tMax <= 0) {
      throw new IllegalArgumentException("tMax must be > 0, got " + tMax);
    }
    if (!(etaMin >= 0) || Double.isInfinite(etaMin)) {
      throw new IllegalArgumentException("etaMin must be finite and >= 0, got " + etaMin);
    }
    this.tMax = tMax;
    this.etaMin = etaMin;
    start();
  }

  @Override
  double lrAt(int epoch, double baseLr) {
    return rate(epoch, tMax, baseLr, etaMin);
  }

  /**
   * The closed form above, at step {@code t} of {@code tMax}: what this scheduler sets after {@code
   * t} calls of {@link #step()}. Code that derives the rate from a step number rather than by
   * stepping a scheduler (the Spark estimators, whose driver and executors must agree on every
   * step's rate) calls this, so both reach the same bits.
   */
  public static double rate(long t, long tMax, double baseLr, double etaMin) {
    return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * t / tMax)) / 2;
  }
}
