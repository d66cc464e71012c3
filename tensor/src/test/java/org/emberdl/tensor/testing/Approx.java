package org.emberdl.tensor.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import org.emberdl.tensor.NDArray;

/** Assertions on array values with a relative-plus-absolute tolerance. */
public final class Approx {
  private Approx() {}

  public static void assertShape(NDArray a, int... shape) {
    assertArrayEquals(shape, a.shape(), "shape");
  }

  /** |expected - actual| <= tol * (1 + |expected|) elementwise; NaN matches NaN. */
  public static void assertClose(double[] expected, NDArray actual, double tol) {
    double[] got = actual.toDoubleArray();
    assertClose(expected, got, tol);
  }

  public static void assertClose(double[] expected, double[] got, double tol) {
    if (expected.length != got.length) {
      fail("length " + got.length + ", expected " + expected.length);
    }
    for (int i = 0; i < expected.length; i++) {
      double e = expected[i];
      double g = got[i];
      boolean ok =
          Double.isNaN(e)
              ? Double.isNaN(g)
              : Double.isInfinite(e) ? e == g : Math.abs(e - g) <= tol * (1 + Math.abs(e));
      if (!ok) {
        fail("element " + i + ": expected " + e + " but was " + g + " (tol " + tol + ")");
      }
    }
  }
}
