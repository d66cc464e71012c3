package org.emberdl.spark.internal.plan;

import org.emberdl.nn.Module;
import org.emberdl.optim.Adam;
import org.emberdl.optim.AdamW;
import org.emberdl.optim.Optimizer;
import org.emberdl.optim.Sgd;

/** The {@code optimizer} Param: the step each replica (and the driver) takes. */
public enum OptimizerName implements ParamValue {
  ADAM,
  ADAMW,
  SGD;

  static String[] names() {
    return ParamValue.names(values());
  }

  static OptimizerName of(String value) {
    return ParamValue.parse(values(), "optimizer", value);
  }

  /** A new optimizer of this kind over {@code module}'s parameters. */
  public Optimizer create(Module module, double lr, double momentum, double weightDecay) {
    return switch (this) {
      case ADAM -> Adam.builder().lr(lr).weightDecay(weightDecay).build(module);
      case ADAMW -> AdamW.builder().lr(lr).weightDecay(weightDecay).build(module);
      case SGD -> new Sgd(module, lr, momentum, 0, weightDecay, false);
    };
  }
}
