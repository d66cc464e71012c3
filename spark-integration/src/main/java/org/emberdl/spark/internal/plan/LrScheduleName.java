package org.emberdl.spark.internal.plan;

/** The {@code lrSchedule} Param: how the learning rate changes over a fit's optimizer steps. */
public enum LrScheduleName implements ParamValue {
  /** {@code learningRate} at every step (after the warmup, if any). */
  CONSTANT,
  /**
   * Cosine annealing from {@code learningRate} to {@code minLearningRate} over the fit's steps
   * (after the warmup, if any), as {@code org.emberdl.optim.CosineAnnealingLr}.
   */
  COSINE;

  static String[] names() {
    return ParamValue.names(values());
  }

  public static LrScheduleName of(String value) {
    return ParamValue.parse(values(), "lrSchedule", value);
  }
}
