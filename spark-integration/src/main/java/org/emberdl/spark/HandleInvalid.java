package org.emberdl.spark;

/**
 * The {@code handleInvalid} Param, as Spark's feature transformers define it: error (fail naming
 * the row), skip (drop the row) or keep (transform and predict only: every output column NaN).
 */
enum HandleInvalid implements ParamValue {
  ERROR("error"),
  SKIP("skip"),
  KEEP("keep");

  private final String paramValue;

  HandleInvalid(String paramValue) {
    this.paramValue = paramValue;
  }

  @Override
  public String paramValue() {
    return paramValue;
  }

  static String[] names() {
    return ParamValue.names(values());
  }

  static HandleInvalid of(String value) {
    return ParamValue.parse(values(), "handleInvalid", value);
  }
}
