package org.emberdl.tensor.cpu;

/**
 * A tile-wise exp for the float32 kernels (softmax rows, GELU's backward) that C2 vectorizes on JDK
 * 17, where {@code Math.exp} is a scalar call (~25 ns a value on the 2-vCPU EPYC, under load) and a
 * Cephes-style exp stays scalar too (its {@code 2^n} needs {@code Float.intBitsToFloat}, which
 * superword does not vectorize).
 *
 * <p>Method: {@code exp(x) = exp(x / 256)^256}, in double: the argument is clamped to {@code [-104,
 * 89]} (outside it a float exp is 0 or infinity anyway), scaled by {@code 2^-8} (exact), {@code
 * exp} of that ({@code |r| < 0.41}) is its degree-10 Taylor polynomial (truncation error below
 * {@code 1.2e-12} relative), then squared eight times, which multiplies the relative error by 256
 * to at most ~{@code 3e-10}: far below a float's half ulp ({@code 6e-8}), so the float result is
 * the correctly rounded {@code exp} except, rarely, one ulp off near a rounding tie. {@code -inf}
 * gives exactly 0 (a masked softmax entry), NaN gives NaN, float subnormal results come out right
 * (they are normal doubles here).
 *
 * <p>Every step is a plain IEEE double add or multiply (or a min/max) in a fixed order, so a value
 * is the same whether the loop runs interpreted, compiled or vectorized, on any thread. The work is
 * split into short loops: C2 on JDK 17 only unrolls, and so vectorizes, loop bodies under its
 * unroll limit (about 60 nodes), which the whole computation in one loop exceeds (measured: one
 * loop ~6 ns a value, scalar; these loops ~5 ns in all, against {@code Math.exp}'s ~25 ns).
 */
final class FastExp {
  private static final double C2 = 1 / 2.0;
  private static final double C3 = 1 / 6.0;
  private static final double C4 = 1 / 24.0;
  private static final double C5 = 1 / 120.0;
  private static final double C6 = 1 / 720.0;
  private static final double C7 = 1 / 5040.0;
  private static final double C8 = 1 / 40320.0;
  private static final double C9 = 1 / 362880.0;
  private static final double C10 = 1 / 3628800.0;

  /** Below this a float exp is 0 (exp(-104) = 6.8e-46 rounds to 0 in float). */
  static final double LOW = -104;

  /** Above this a float exp is infinite (exp(89) = 4.5e38 > Float.MAX_VALUE). */
  static final double HIGH = 89;

  private FastExp() {}

  /**
   * {@code out[i] = exp(x[i])} for {@code i < n}, in double, to the accuracy described above (good
   * for rounding to float, not for a double result). {@code x} is overwritten (scratch); {@code x}
   * and {@code out} must be different arrays.
   */
  static void exp(double[] x, double[] out, int n) {
    for (int i = 0; i < n; i++) {
      x[i] = Math.max(Math.min(x[i], HIGH), LOW) * (1.0 / 256);
    }
    for (int i = 0; i < n; i++) {
      double r = x[i];
      double p = r * C10 + C9;
      p = p * r + C8;
      p = p * r + C7;
      p = p * r + C6;
      p = p * r + C5;
      out[i] = p;
    }
    for (int i = 0; i < n; i++) {
      double r = x[i];
      double p = out[i];
      p = p * r + C4;
      p = p * r + C3;
      p = p * r + C2;
      p = p * r + 1.0;
      p = p * r + 1.0;
      out[i] = p;
    }
    for (int i = 0; i < n; i++) {
      double p = out[i];
      p *= p;
      p *= p;
      p *= p;
      p *= p;
      p *= p;
      p *= p;
      p *= p;
      p *= p;
      out[i] = p;
    }
  }

  /** A single value, the same as {@link #exp(double[], double[], int)} gives for it. */
  static double exp(double x) {
    double r = Math.max(Math.min(x, HIGH), LOW) * (1.0 / 256);
    double p = r * C10 + C9;
    p = p * r + C8;
    p = p * r + C7;
    p = p * r + C6;
    p = p * r + C5;
    p = p * r + C4;
    p = p * r + C3;
    p = p * r + C2;
    p = p * r + 1.0;
    p = p * r + 1.0;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    return p;
  }
}
