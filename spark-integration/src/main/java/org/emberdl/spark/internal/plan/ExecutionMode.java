package org.emberdl.spark.internal.plan;

import org.emberdl.spark.EmberParams;
import org.emberdl.spark.internal.stage.StageTraining;

/**
 * How a sync or dp-sgd fit runs on Spark. Both give the same weights bit for bit; they differ in
 * what each step costs: a Spark job (scheduling, broadcast, task serialisation, ~20 ms) or one RPC
 * round trip to the driver inside a long-lived task.
 */
public enum ExecutionMode implements ParamValue {
  /**
   * One Spark barrier stage per epoch; its tasks exchange each step with the driver ({@link
   * StageTraining}).
   */
  STAGE,
  /** One Spark job per step: broadcast the weights, collect the partitions' updates. */
  ROUNDS;

  static String[] names() {
    return ParamValue.names(values());
  }

  /** The mode a fit with these Params runs in (the federated aggregations run in rounds). */
  static ExecutionMode of(EmberParams<?> p) {
    if (!Aggregation.of(p).canRunAsStage()) {
      return ROUNDS;
    }
    return ParamValue.parse(values(), "executionMode", p.getExecutionMode());
  }
}
