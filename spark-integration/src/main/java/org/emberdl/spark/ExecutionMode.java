package org.emberdl.spark;

import java.util.Arrays;
import java.util.Locale;
import java.util.Set;

/**
 * How a sync or dp-sgd fit runs on Spark. Both give the same weights bit for bit; they differ in
 * what each step costs: a Spark job (scheduling, broadcast, task serialisation, ~20 ms) or one RPC
 * round trip to the driver inside a long-lived task.
 */
enum ExecutionMode {
  /**
   * One Spark barrier stage per epoch; its tasks exchange each step with the driver ({@link
   * StageTraining}).
   */
  STAGE,
  /** One Spark job per step: broadcast the weights, collect the partitions' updates. */
  ROUNDS;

  /**
   * The aggregations that can run as a stage; the federated ones (client sampling, local epochs)
   * always run in rounds, whatever executionMode says (documented on the Param).
   */
  static final Set<String> STAGED_AGGREGATIONS = Set.of("sync", "dp-sgd");

  /** The Param's spelling of this mode. */
  String paramValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  static String[] names() {
    return Arrays.stream(values()).map(ExecutionMode::paramValue).toArray(String[]::new);
  }

  /** The mode a fit with these Params runs in (the federated aggregations run in rounds). */
  static ExecutionMode of(EmberParams<?> p) {
    if (!STAGED_AGGREGATIONS.contains(p.getAggregation())) {
      return ROUNDS;
    }
    return valueOf(p.getExecutionMode().toUpperCase(Locale.ROOT));
  }
}
