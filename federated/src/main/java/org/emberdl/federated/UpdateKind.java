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
  CLIPPED_GRADIENT_SUM,
  /**
   * The sum over the partition's sampled clients of each client's model delta (local weights after
   * its local epochs - the round's weights) clipped to L2 norm S, unweighted (DP-FedAvg's
   * client-level clipping); no noise unless secure aggregation's distributed noise put it there.
   */
  CLIPPED_DELTA_SUM
}
