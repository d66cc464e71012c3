package org.emberdl.spark;

import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;

/** The optimizer a stage's {@code optimizer} Param names. */
final class Optimizers {
  private Optimizers() {}

  static Optimizer create(TrainingConfig c, Module module) {
    return c.optimizer().create(module, c.learningRate(), c.momentum(), c.weightDecay());
  }
}
