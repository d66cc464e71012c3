package org.emberdl.federated;

/** What a partition's {@link Update#values()} hold, as its {@link Aggregator} asks. */
public enum UpdateKind {
  /** The sum over the partition's examples of each example's loss gradient. */
  GRADIENT_SUM,
  /**
   * (local weights after the round's local steps - the round's global weights) times the number of
   * examples used: a model delta weighted for averaging.
   */
  WEIGHTED_DELTA
}
