package org.emberdl.spark.internal.train;

import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;

/** The optimizer a stage's {@code optimizer} Param names. */
public final class Optimizers {
  private Optimizers() {}

  public static Optimizer create(TrainingConfig c, Module module) {
    return c.optimizer().create(module, c.learningRate(), c.momentum(), c.weightDecay());
  }
}
