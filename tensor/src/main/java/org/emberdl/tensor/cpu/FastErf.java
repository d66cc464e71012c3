package org.emberdl.tensor.cpu;

/**
 * A branch-free float32 erf for the GELU kernels: {@code erf(x) = x P(x^2) / Q(x^2)} on {@code [-4,
 * 4]} (beyond it erf rounds to +-1 in float), the rational minimax form Eigen and XLA use for
 * float, with a degree-13 odd numerator and degree-8 even denominator. Only multiplies, adds, one
 * divide and a clamp, so C2 vectorizes a loop of it, where {@link SpecialFunctions#erf(float)}
 * (fdlibm's, with an exp and data-dependent branches) runs scalar at tens of ns per value. Its
 * error is a few float32 ulps (measured in {@code FastErfTest}); float64 keeps the exact fdlibm
 * port.
 */
final class FastErf {
  private static final float A1 = -1.60960333262415e-02f;
  private static final float A3 = -2.95459980854025e-03f;
  private static final float A5 = -7.34990630326855e-04f;
  private static final float A7 = -5.69250639462346e-05f;
  private static final float A9 = -2.10102402082508e-06f;
  private static final float A11 = 2.77068142495902e-08f;
  private static final float A13 = -2.72614225801306e-10f;
  private static final float B0 = -1.42647390514189e-02f;
  private static final float B2 = -7.37332916720468e-03f;
  private static final float B4 = -1.68282697438203e-03f;
  private static final float B6 = -2.13374055278905e-04f;
  private static final float B8 = -1.45660718464996e-05f;

  private FastErf() {}

  /** erf of a float, to a few ulps; NaN gives NaN. */
  static float erf(float v) {
    float x = Math.min(Math.max(v, -4f), 4f);
    float x2 = x * x;
    float p = x2 * A13 + A11;
    p = x2 * p + A9;
    p = x2 * p + A7;
    p = x2 * p + A5;
    p = x2 * p + A3;
    p = x2 * p + A1;
    p = x * p;
    float q = x2 * B8 + B6;
    q = x2 * q + B4;
    q = x2 * q + B2;
    q = x2 * q + B0;
    return p / q;
  }
}
