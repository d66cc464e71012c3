package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The fused GELU-backward, layer-norm and softmax kernels against values worked out by hand. */
class FusedOpsTest {
  private static double erfSeries(double z) {
    double sum = 0;
    double term = z;
    for (int n = 0; n < 300; n++) {
      sum += term / (2 * n + 1);
      term *= -z * z / (n + 1);
    }
    return 2 / Math.sqrt(Math.PI) * sum;
  }

  /** d/dx x Phi(x) = Phi(x) + x phi(x), from the erf series. */
  private static double geluGrad(double x) {
    return 0.5 * (1 + erfSeries(x / Math.sqrt(2)))
        + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  }

  @Test
  void geluBackwardMatchesTheDerivativeInBothDtypes() {
    // within |x| <= 4 the erf series keeps ~1e-13 absolute (its terms stay below e^8)
    double[] xs = {-4, -3.5, -1, -0.25, 0, 1e-3, 0.5, 1, 2.5, 4};
    double[] gs = {1, 2, -1, 0.5, 3, 1, -2, 1, 0.25, 1};
    double[] expected = new double[xs.length];
    for (int i = 0; i < xs.length; i++) {
      expected[i] = gs[i] * geluGrad(xs[i]);
    }
    try (NDArray x = NDArray.of(xs, xs.length);
        NDArray g = NDArray.of(gs, gs.length);
        NDArray d = FusedOps.geluBackward(g, x);
        NDArray xf = x.cast(DType.FLOAT32);
        NDArray gf = g.cast(DType.FLOAT32);
        NDArray df = FusedOps.geluBackward(gf, xf)) {
      assertClose(expected, d, 1e-12);
      assertClose(expected, df, 2e-6);
    }
    // far tails: the gradient is 1 (x >> 0) or 0 (x << 0) to float precision; the float erf
    // saturates there
    try (NDArray x = NDArray.of(new float[] {-9, -7, 7, 9}, 4);
        NDArray g = NDArray.of(new float[] {1, 1, 1, 1}, 4);
        NDArray df = FusedOps.geluBackward(g, x)) {
      assertClose(new double[] {0, 0, 1, 1}, df, 1e-7);
    }
  }

  @Test
  void geluBackwardRejectsMismatchedShapes() {
    try (NDArray x = NDArray.zeros(DType.FLOAT32, 3);
        NDArray g = NDArray.zeros(DType.FLOAT32, 4)) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> FusedOps.geluBackward(g, x));
      assertEquals(
          "geluBackward needs two arrays of one floating dtype, shape and device; got"
              + " float32[4] and float32[3]",
          e.getMessage());
    }
  }

  @Test
  void layerNormNormalizesRowsAndKeepsStatistics() {
    // row 0: mean 2.5, biased var 1.25; row 1 constant: var 0 so rstd = 1/sqrt(eps)
    double eps = 1e-5;
    try (NDArray x = NDArray.of(new double[] {1, 2, 3, 4, 2, 2, 2, 2}, 2, 4);
        NDArray w = NDArray.of(new double[] {1, 2, 3, 4}, 4);
        NDArray b = NDArray.of(new double[] {0, 0, 0, 10}, 4)) {
      FusedOps.LayerNormResult r = FusedOps.layerNorm(x, 4, w, b, eps);
      try (NDArray y = r.output();
          NDArray mean = r.mean();
          NDArray rstd = r.rstd()) {
        double k = 1 / Math.sqrt(1.25 + eps);
        assertClose(new double[] {-1.5 * k, -1 * k, 1.5 * k, 6 * k + 10, 0, 0, 0, 10}, y, 1e-15);
        assertClose(new double[] {2.5, 2}, mean, 0);
        assertClose(new double[] {k, 1 / Math.sqrt(eps)}, rstd, 1e-12);
      }
    }
  }

  @Test
  void layerNormBackwardMatchesTheClosedForm() {
    // one row x = (1, 2, 4), weight (2, -1, 0.5), grad (1, 3, -2): mean 7/3, var 14/9
    double[] xv = {1, 2, 4};
    double[] wv = {2, -1, 0.5};
    double[] gv = {1, 3, -2};
    double eps = 1e-5;
    double mu = 7.0 / 3;
    double inv = 1 / Math.sqrt(14.0 / 9 + eps);
    double[] xh = new double[3];
    double[] gh = new double[3];
    double sGh = 0;
    double sGhXh = 0;
    for (int i = 0; i < 3; i++) {
      xh[i] = (xv[i] - mu) * inv;
      gh[i] = gv[i] * wv[i];
      sGh += gh[i];
      sGhXh += gh[i] * xh[i];
    }
    double[] dx = new double[3];
    double[] dw = new double[3];
    for (int i = 0; i < 3; i++) {
      dx[i] = inv * (gh[i] - sGh / 3 - xh[i] * sGhXh / 3);
      dw[i] = gv[i] * xh[i];
    }
    try (NDArray x = NDArray.of(xv, 1, 3);
        NDArray w = NDArray.of(wv, 3);
        NDArray g = NDArray.of(gv, 1, 3)) {
      FusedOps.LayerNormResult r = FusedOps.layerNorm(x, 3, w, null, eps);
      try (NDArray y = r.output();
          NDArray mean = r.mean();
          NDArray rstd = r.rstd()) {
        FusedOps.LayerNormGrads grads = FusedOps.layerNormBackward(g, x, mean, rstd, w, true, true);
        try (NDArray gx = grads.dx();
            NDArray gw = grads.dweight();
            NDArray gb = grads.dbias()) {
          assertClose(dx, gx, 1e-12);
          assertClose(dw, gw, 1e-12);
          assertClose(gv, gb, 0);
        }
        FusedOps.LayerNormGrads onlyX =
            FusedOps.layerNormBackward(g, x, mean, rstd, w, false, false);
        try (NDArray gx = onlyX.dx()) {
          assertNull(onlyX.dweight());
          assertNull(onlyX.dbias());
          assertClose(dx, gx, 1e-12);
        }
      }
    }
  }

  @Test
  void layerNormRejectsAWeightOfTheWrongSize() {
    try (NDArray x = NDArray.zeros(DType.FLOAT32, 2, 4);
        NDArray w = NDArray.zeros(DType.FLOAT32, 3)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> FusedOps.layerNorm(x, 4, w, null, 1e-5));
      assertEquals(
          "layerNorm weight must have 4 elements of float32, got float32[3]", e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class, () -> FusedOps.layerNorm(x, 3, null, null, 1e-5));
      assertEquals(
          "layerNorm normalizes groups of 3 elements; x float32[2, 4] is not a floating array of"
              + " whole groups",
          e.getMessage());
    }
  }

  @Test
  void softmaxLastDimScalesAndNormalizesEachRow() {
    // scale 0.5 on (0, 2 ln 2, 2 ln 3) gives exp = (1, 2, 3) / 6; an all -inf row is NaN
    double l2 = 2 * Math.log(2);
    double l3 = 2 * Math.log(3);
    double inf = Double.NEGATIVE_INFINITY;
    try (NDArray x = NDArray.of(new double[] {0, l2, l3, inf, 0, inf, inf, inf, inf}, 3, 3);
        NDArray y = FusedOps.softmaxLastDim(x, 0.5);
        NDArray xf = x.cast(DType.FLOAT32);
        NDArray yf = FusedOps.softmaxLastDim(xf, 0.5)) {
      double[] got = y.toDoubleArray();
      assertClose(
          new double[] {1 / 6.0, 2 / 6.0, 3 / 6.0, 0, 1, 0},
          java.util.Arrays.copyOf(got, 6),
          1e-15);
      double[] gotF = yf.toDoubleArray();
      assertClose(
          new double[] {1 / 6.0, 2 / 6.0, 3 / 6.0, 0, 1, 0},
          java.util.Arrays.copyOf(gotF, 6),
          1e-7);
      for (int i = 6; i < 9; i++) {
        assertTrue(Double.isNaN(got[i]) && Double.isNaN(gotF[i]), "all -inf row gives NaN");
      }
    }
  }

  @Test
  void softmaxBackwardIsScaleTimesYTimesCenteredGrad() {
    // y = (0.2, 0.3, 0.5), g = (1, -1, 2): sum(g y) = 0.2 - 0.3 + 1 = 0.9
    try (NDArray y = NDArray.of(new double[] {0.2, 0.3, 0.5}, 1, 3);
        NDArray g = NDArray.of(new double[] {1, -1, 2}, 1, 3);
        NDArray d = FusedOps.softmaxLastDimBackward(g, y, 2)) {
      assertArrayEquals(new int[] {1, 3}, d.shape());
      assertClose(new double[] {2 * 0.2 * 0.1, 2 * 0.3 * -1.9, 2 * 0.5 * 1.1}, d, 1e-15);
    }
  }

  @Test
  void softmaxOnANonContiguousViewReadsItsValues() {
    // the transpose of [[0, ln 3], [0, 0]] has rows (0, 0) and (ln 3, 0)
    try (NDArray x = NDArray.of(new double[] {0, Math.log(3), 0, 0}, 2, 2);
        NDArray t = x.transpose(0, 1);
        NDArray y = FusedOps.softmaxLastDim(t, 1)) {
      assertClose(new double[] {0.5, 0.5, 0.75, 0.25}, y, 1e-15);
    }
  }
}
