package org.emberdl.spark;

/**
 * The {@code handleInvalid} Param, as Spark's feature transformers define it: error (fail naming
 * the row), skip (drop the row) or keep (transform and predict only: every output column NaN).
 */
enum HandleInvalid implements ParamValue {
  ERROR,
  SKIP,
  KEEP;

  static String[] names() {
    return ParamValue.names(values());
  }

  static HandleInvalid of(String value) {
    return ParamValue.parse(values(), "handleInvalid", value);
  }
}
