package org.emberdl.tensor.ops;

/** Reductions over the trailing dims of a (permuted) array. */
public enum ReduceOp {
  SUM("sum"),
  PROD("prod"),
  MAX("max"),
  MIN("min"),
  /** Index of the first maximum; int64 result. */
  ARGMAX("argmax"),
  /** Index of the first minimum; int64 result. */
  ARGMIN("argmin"),
  /** Bool result: every element non-zero. */
  ALL("all"),
  /** Bool result: some element non-zero. */
  ANY("any");

  private final String kernelName;

  ReduceOp(String kernelName) {
    this.kernelName = kernelName;
  }

  public String kernelName() {
    return kernelName;
  }
}
