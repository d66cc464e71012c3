package org.emberdl.spark.internal.plan;

/** Whether a stage classifies (class-index labels, cross-entropy) or regresses (real targets). */
public enum TaskKind {
  CLASSIFICATION("cross_entropy"),
  REGRESSION("mse");

  private final String loss;

  TaskKind(String loss) {
    this.loss = loss;
  }

  /** The {@code loss} Param's value for this kind of task (the only loss it trains with). */
  public String lossName() {
    return loss;
  }

  /** The {@code loss} Param's accepted values. */
  static String[] lossNames() {
    return new String[] {CLASSIFICATION.loss, REGRESSION.loss};
  }
}
