package org.emberdl.spark.internal.plan;

import org.emberdl.federated.ServerOptimizer;

/** The {@code serverOptimizer} Param: the federated server's step on the averaged delta. */
public enum ServerOptimizerName implements ParamValue {
  /** {@code w += serverLearningRate * delta}. */
  SGD,
  /** FedAvgM, with serverMomentum. */
  MOMENTUM,
  /** FedAdam: beta1 = serverMomentum, beta2 0.99, tau 1e-3. */
  ADAM;

  static String[] names() {
    return ParamValue.names(values());
  }

  static ServerOptimizerName of(String value) {
    return ParamValue.parse(values(), "serverOptimizer", value);
  }

  /** Whether this step reads serverMomentum. */
  boolean usesMomentum() {
    return switch (this) {
      case MOMENTUM, ADAM -> true;
      case SGD -> false;
    };
  }

  /** A new server optimizer (its state starts empty). */
  ServerOptimizer create(double learningRate, double momentum) {
    return switch (this) {
      case SGD -> ServerOptimizer.sgd(learningRate);
      case MOMENTUM -> ServerOptimizer.momentum(learningRate, momentum);
      case ADAM -> ServerOptimizer.adam(learningRate, momentum, 0.99, 1e-3);
    };
  }
}
