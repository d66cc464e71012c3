package org.emberdl.federated;

/** What a partition's {@link Update#values()} hold, as its {@link Aggregator} asks. */
public enum UpdateKind {
  /** The sum over the partition's examples of each example's loss gradient. */
  GRADIENT_SUM,
  /**
   * (local weights after the round's local steps - the round's global weights) times the number of
   * examples used: a model delta weighted for averaging.
   */
  WEIGHTED_DELTA,
  /**
   * The sum over a Poisson sample of the partition's examples of each example's loss gradient
   * clipped to L2 norm C (DP-SGD); no noise: the aggregator adds it once to the total.
   */
  CLIPPED_GRADIENT_SUM
}
