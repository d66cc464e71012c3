package org.emberdl.federated;

import java.io.Serializable;

/**
 * How the updates of many partitions become one step: the strategy the Spark coordinator (or any
 * other driver) plugs in. Implementations are serializable because the executors read {@link
 * #updateKind()} to know what to compute.
 *
 * <p>The contract: every partition's {@link Update} is summed elementwise (in partition order) and
 * {@link #combine} sees only that sum. Strategies that need more than a sum (clipping each
 * partition, adding noise, unmasking a secure sum) do their per-partition part on the executor
 * before the sum and their global part in {@code combine}.
 */
public interface Aggregator extends Serializable {
  /** What each partition computes and sends. */
  UpdateKind updateKind();

  /**
   * Turns the sum of all partitions' updates into one step.
   *
   * @throws IllegalStateException when the sum covers no examples
   */
  Step combine(Update total);

  /** A short name for logs and model metadata. */
  String name();
}
