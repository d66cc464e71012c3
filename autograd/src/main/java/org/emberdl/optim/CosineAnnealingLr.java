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
    return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
  }
}
