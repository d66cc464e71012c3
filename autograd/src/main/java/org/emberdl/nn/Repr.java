package org.emberdl.nn;

/** Helpers for PyTorch-style module reprs ({@code Conv2d(1, 8, kernel_size=(3, 3), ...)}). */
final class Repr {
  private Repr() {}

  /** Python's spelling of a boolean. */
  static String bool(boolean b) {
    return b ? "True" : "False";
  }

  /** A (h, w) pair as a Python tuple. */
  static String pair(int[] p) {
    return "(" + p[0] + ", " + p[1] + ")";
  }

  /** Python's repr of a float ({@code 1e-05}, {@code 0.1}). */
  static String num(double v) {
    String s = Double.toString(v);
    int e = s.indexOf('E');
    if (e < 0) {
      return s;
    }
    if (Math.abs(v) >= 1e-4 && Math.abs(v) < 1e16) {
      // Python writes these positionally; Java switches to exponents below 1e-3 and from 1e7
      return new java.math.BigDecimal(s).stripTrailingZeros().toPlainString()
          + (Math.abs(v) >= 1 && v == Math.rint(v) ? ".0" : "");
    }
    String mantissa = s.substring(0, e);
    if (mantissa.endsWith(".0")) {
      mantissa = mantissa.substring(0, mantissa.length() - 2);
    }
    int exp = Integer.parseInt(s.substring(e + 1));
    return String.format(
        java.util.Locale.ROOT, "%se%s%02d", mantissa, exp < 0 ? "-" : "+", Math.abs(exp));
  }

  /** {@code {k}} or {@code {h, w}} as an {@code {h, w}} pair, checked positive or non-negative. */
  static int[] pair(String what, int[] v, boolean allowZero) {
    if (v == null || v.length < 1 || v.length > 2) {
      throw new IllegalArgumentException(
          what
              + " needs 1 or 2 values, got "
              + (v == null ? "null" : java.util.Arrays.toString(v)));
    }
    int[] p = v.length == 1 ? new int[] {v[0], v[0]} : v.clone();
    for (int x : p) {
      if (allowZero ? x < 0 : x <= 0) {
        throw new IllegalArgumentException(
            what
                + " must be "
                + (allowZero ? "non-negative" : "positive")
                + ", got "
                + java.util.Arrays.toString(v));
      }
    }
    return p;
  }
}
