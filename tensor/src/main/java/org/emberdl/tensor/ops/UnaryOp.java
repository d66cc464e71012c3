package org.emberdl.tensor.ops;

/**
 * Elementwise ops of one operand. The single declaration of each op: CPU kernels, CUDA kernels and
 * gradients are switches over this enum with no {@code default}, so a missing arm does not compile.
 */
public enum UnaryOp {
  /** Copy with dtype conversion; also {@code contiguous()} and casts. */
  IDENTITY("identity", false),
  NEG("neg", false),
  ABS("abs", false),
  SIGN("sign", false),
  EXP("exp", true),
  LOG("log", true),
  LOG1P("log1p", true),
  SQRT("sqrt", true),
  RSQRT("rsqrt", true),
  TANH("tanh", true),
  SIGMOID("sigmoid", true),
  RELU("relu", false),
  /** Exact GELU, {@code x * Phi(x)} with the erf form (PyTorch's default). */
  GELU("gelu", true),
  /** Heaviside step, {@code x > 0 ? 1 : 0} (NaN stays NaN): ReLU's derivative. */
  STEP("step", false),
  /** The error function (GELU's gradient needs it). */
  ERF("erf", true),
  /** Logical not: the result is bool. */
  LOGICAL_NOT("logical_not", false);

  private final String kernelName;
  private final boolean realValued;

  UnaryOp(String kernelName, boolean realValued) {
    this.kernelName = kernelName;
    this.realValued = realValued;
  }

  /** Name used by device kernels ({@code exp_f32}). */
  public String kernelName() {
    return kernelName;
  }

  /** True when integer inputs are promoted to a floating dtype (exp, log, ...). */
  public boolean isRealValued() {
    return realValued;
  }
}
