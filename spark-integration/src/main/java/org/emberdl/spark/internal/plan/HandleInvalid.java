package org.emberdl.spark.internal.plan;

/**
 * The {@code handleInvalid} Param, as Spark's feature transformers define it: error (fail naming
 * the row), skip (drop the row) or keep (transform and predict only: every output column NaN).
 */
public enum HandleInvalid implements ParamValue {
  ERROR,
  SKIP,
  KEEP;

  static String[] names() {
    return ParamValue.names(values());
  }

  public static HandleInvalid of(String value) {
    return ParamValue.parse(values(), "handleInvalid", value);
  }
}
