package org.emberdl.spark;

import org.emberdl.nn.Module;
import org.emberdl.optim.Adam;
import org.emberdl.optim.AdamW;
import org.emberdl.optim.Optimizer;
import org.emberdl.optim.Sgd;

/** The optimizer a stage's {@code optimizer} Param names. */
final class Optimizers {
  private Optimizers() {}

  static Optimizer create(
      String name, Module module, double lr, double momentum, double weightDecay) {
    return switch (name) {
      case "adam" -> Adam.builder().lr(lr).weightDecay(weightDecay).build(module);
      case "adamw" -> AdamW.builder().lr(lr).weightDecay(weightDecay).build(module);
      case "sgd" -> new Sgd(module, lr, momentum, 0, weightDecay, false);
      default -> throw new IllegalArgumentException("unknown optimizer '" + name + "'");
    };
  }

  static Optimizer create(TrainingConfig c, Module module) {
    return create(c.optimizer(), module, c.learningRate(), c.momentum(), c.weightDecay());
  }
}
