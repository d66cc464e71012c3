package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.emberdl.tensor.testing.Approx.assertShape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Convolution and pooling against values worked out independently of the engine: a hand-computed
 * example, direct nested-loop references on plain double arrays, finite differences of the forward,
 * and the adjoint identities {@code <A x, g> == <x, A^T g>} that tie each backward kernel to its
 * forward.
 */
class ConvolutionTest {
  private static final DType F64 = DType.FLOAT64;
  private static final DType F32 = DType.FLOAT32;

  // ---------------------------------------------------------------------------------------------
  // Reference implementations (plain loops on row-major double arrays)

  /** One convolution's sizes; {@code n} samples of (c, h, w), weight (o, c / groups, kh, kw). */
  record Conv(
      int n,
      int c,
      int h,
      int w,
      int o,
      int kh,
      int kw,
      int sh,
      int sw,
      int ph,
      int pw,
      int dh,
      int dw,
      int groups) {
    int outH() {
      return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    }

    int outW() {
      return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    }

    int[] inputShape() {
      return new int[] {n, c, h, w};
    }

    int[] weightShape() {
      return new int[] {o, c / groups, kh, kw};
    }

    int[] outShape() {
      return new int[] {n, o, outH(), outW()};
    }

    int[] stride() {
      return new int[] {sh, sw};
    }

    int[] padding() {
      return new int[] {ph, pw};
    }

    int[] dilation() {
      return new int[] {dh, dw};
    }

    /**
     * Visits every (input element, weight element, output element) triple the convolution
     * multiplies together: {@code out[b, oc, y, x] += in[b, ic, iy, ix] * w[oc, icg, i, j]}.
     */
    void forEachTerm(Term term) {
      int cg = c / groups;
      int og = o / groups;
      int oh = outH();
      int ow = outW();
      for (int b = 0; b < n; b++) {
        for (int oc = 0; oc < o; oc++) {
          int grp = oc / og;
          for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
              int outIdx = ((b * o + oc) * oh + y) * ow + x;
              for (int icg = 0; icg < cg; icg++) {
                int ic = grp * cg + icg;
                for (int i = 0; i < kh; i++) {
                  int iy = y * sh - ph + i * dh;
                  if (iy < 0 || iy >= h) {
                    continue;
                  }
                  for (int j = 0; j < kw; j++) {
                    int ix = x * sw - pw + j * dw;
                    if (ix < 0 || ix >= w) {
                      continue;
                    }
                    int inIdx = ((b * c + ic) * h + iy) * w + ix;
                    int wIdx = ((oc * cg + icg) * kh + i) * kw + j;
                    term.visit(inIdx, wIdx, outIdx);
                  }
                }
              }
            }
          }
        }
      }
    }

    double[] forward(double[] in, double[] wt, double[] bias) {
      double[] out = new double[n * o * outH() * outW()];
      if (bias != null) {
        int plane = outH() * outW();
        for (int k = 0; k < out.length; k++) {
          out[k] = bias[(k / plane) % o];
        }
      }
      forEachTerm((i, k, q) -> out[q] += in[i] * wt[k]);
      return out;
    }

    double[] backwardInput(double[] gradOut, double[] wt) {
      double[] g = new double[n * c * h * w];
      forEachTerm((i, k, q) -> g[i] += gradOut[q] * wt[k]);
      return g;
    }

    double[] backwardWeight(double[] gradOut, double[] in) {
      double[] g = new double[o * (c / groups) * kh * kw];
      forEachTerm((i, k, q) -> g[k] += gradOut[q] * in[i]);
      return g;
    }
  }

  @FunctionalInterface
  interface Term {
    void visit(int inIdx, int weightIdx, int outIdx);
  }

  /** Naive pooling over (planes, h, w): the max (first in row-major window order) or the mean. */
  record Pool(int planes, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw) {
    int outH() {
      return (h + 2 * ph - kh) / sh + 1;
    }

    int outW() {
      return (w + 2 * pw - kw) / sw + 1;
    }

    /** Values then indices (as doubles) of max pooling. */
    double[][] max(double[] in) {
      int oh = outH();
      int ow = outW();
      double[] v = new double[planes * oh * ow];
      double[] idx = new double[v.length];
      for (int p = 0; p < planes; p++) {
        for (int y = 0; y < oh; y++) {
          for (int x = 0; x < ow; x++) {
            double best = 0;
            int arg = -1;
            for (int i = 0; i < kh; i++) {
              for (int j = 0; j < kw; j++) {
                int iy = y * sh - ph + i;
                int ix = x * sw - pw + j;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                  double val = in[(p * h + iy) * w + ix];
                  if (arg < 0 || val > best) {
                    best = val;
                    arg = iy * w + ix;
                  }
                }
              }
            }
            int q = (p * oh + y) * ow + x;
            v[q] = best;
            idx[q] = arg;
          }
        }
      }
      return new double[][] {v, idx};
    }

    /** Mean over the window, padding counted as zeros in the divisor. */
    double[] avg(double[] in) {
      int oh = outH();
      int ow = outW();
      double[] v = new double[planes * oh * ow];
      for (int p = 0; p < planes; p++) {
        for (int y = 0; y < oh; y++) {
          for (int x = 0; x < ow; x++) {
            double sum = 0;
            for (int i = 0; i < kh; i++) {
              for (int j = 0; j < kw; j++) {
                int iy = y * sh - ph + i;
                int ix = x * sw - pw + j;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                  sum += in[(p * h + iy) * w + ix];
                }
              }
            }
            v[(p * oh + y) * ow + x] = sum / (kh * kw);
          }
        }
      }
      return v;
    }
  }

  static double dot(double[] a, double[] b) {
    assertEquals(a.length, b.length, "dot: lengths");
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  static double[] randn(long seed, int... shape) {
    try (NDArray a = NDArray.randn(new Generator(seed), F64, shape)) {
      return a.toDoubleArray();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // (1) A convolution worked out by hand

  @Test
  void tinyConvolutionComputedByHand() {
    // input           kernel      valid conv (stride 1), + bias 0.5:
    // 1 2 3           1 2         1*1 + 2*2 + 4*3 + 5*4 = 37    2*1 + 3*2 + 5*3 + 6*4 = 47
    // 4 5 6           3 4         4*1 + 5*2 + 7*3 + 8*4 = 67    5*1 + 6*2 + 8*3 + 9*4 = 77
    // 7 8 9
    //
    // padding 1, stride 2: windows start at rows/cols -1 and 1 of the zero-padded input:
    //   (-1,-1): only in[0,0]=1 under k[1,1]=4                     -> 4
    //   (-1, 1): in[0,1]=2 * k[1,0]=3 + in[0,2]=3 * k[1,1]=4        -> 6 + 12 = 18
    //   ( 1,-1): in[1,0]=4 * k[0,1]=2 + in[2,0]=7 * k[1,1]=4        -> 8 + 28 = 36
    //   ( 1, 1): 5*1 + 6*2 + 8*3 + 9*4                              -> 77
    for (DType dtype : new DType[] {F64, F32}) {
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray x = NDArray.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3).cast(dtype);
        NDArray k = NDArray.of(new double[] {1, 2, 3, 4}, 1, 1, 2, 2).cast(dtype);
        NDArray b = NDArray.of(new double[] {0.5}).cast(dtype);
        NDArray y = Convolution.conv2d(x, k, b, new int[] {1}, new int[] {0}, new int[] {1}, 1);
        assertShape(y, 1, 1, 2, 2);
        assertEquals(dtype, y.dtype());
        assertArrayEquals(new double[] {37.5, 47.5, 67.5, 77.5}, y.toDoubleArray());
        NDArray z = Convolution.conv2d(x, k, null, new int[] {2}, new int[] {1}, new int[] {1}, 1);
        assertShape(z, 1, 1, 2, 2);
        assertArrayEquals(new double[] {4, 18, 36, 77}, z.toDoubleArray());
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // (2) Forward against the nested-loop reference

  static Stream<Arguments> convCases() {
    return Stream.of(
            // n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups
            new Conv(2, 3, 7, 6, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1), // plain
            new Conv(3, 4, 8, 9, 6, 3, 2, 2, 1, 1, 0, 1, 1, 2), // non-square, strided, 2 groups
            new Conv(2, 4, 9, 9, 4, 3, 3, 1, 1, 1, 1, 2, 2, 4), // depthwise, dilated
            new Conv(2, 3, 7, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 3), // depthwise, multiplier 2
            new Conv(1, 6, 10, 7, 3, 2, 4, 3, 2, 2, 1, 1, 2, 3), // 2 in / 1 out per group
            new Conv(4, 2, 5, 5, 5, 1, 1, 2, 2, 0, 0, 1, 1, 1), // 1x1, strided
            new Conv(2, 3, 6, 6, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1), // "same" 5x5
            new Conv(3, 2, 4, 11, 3, 1, 3, 1, 3, 0, 2, 1, 3, 1), // 1x3 dilated in w only
            new Conv(2, 2, 3, 3, 2, 3, 3, 1, 1, 0, 0, 1, 1, 1)) // kernel == input: 1x1 output
        .map(Arguments::of);
  }

  @ParameterizedTest
  @MethodSource("convCases")
  void forwardMatchesReference(Conv cv) {
    double[] x = randn(1, cv.inputShape());
    double[] w = randn(2, cv.weightShape());
    double[] b = randn(3, cv.o());
    for (DType dtype : new DType[] {F64, F32}) {
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray xa = NDArray.of(x, cv.inputShape()).cast(dtype);
        NDArray wa = NDArray.of(w, cv.weightShape()).cast(dtype);
        NDArray ba = NDArray.of(b).cast(dtype);
        // the reference sees exactly the (possibly rounded) values the engine sees
        double[] expected = cv.forward(xa.toDoubleArray(), wa.toDoubleArray(), ba.toDoubleArray());
        NDArray y =
            Convolution.conv2d(xa, wa, ba, cv.stride(), cv.padding(), cv.dilation(), cv.groups());
        assertShape(y, cv.outShape());
        assertEquals(dtype, y.dtype());
        assertClose(expected, y, dtype == F64 ? 1e-12 : 1e-5);
      }
    }
  }

  @Test
  void forwardAcceptsViewsAndUnbatchedInput() {
    Conv cv = new Conv(2, 3, 6, 5, 4, 3, 2, 1, 2, 1, 1, 1, 1, 1);
    try (MemoryScope scope = MemoryScope.open()) {
      // (N, H, W, C) storage permuted to an (N, C, H, W) view; weight as a transposed view
      NDArray nhwc = NDArray.randn(new Generator(5), F64, 2, 6, 5, 3);
      NDArray x = nhwc.permute(0, 3, 1, 2);
      NDArray wt = NDArray.randn(new Generator(6), F64, 2, 3, 3, 4); // (kw, C, kh, O)
      NDArray w = wt.permute(3, 1, 2, 0);
      double[] expected = cv.forward(x.toDoubleArray(), w.toDoubleArray(), null);
      NDArray y = Convolution.conv2d(x, w, null, cv.stride(), cv.padding(), cv.dilation(), 1);
      assertClose(expected, y, 1e-12);

      NDArray x0 = x.select(0, 0).contiguous(); // (C, H, W)
      NDArray y0 = Convolution.conv2d(x0, w, null, cv.stride(), cv.padding(), cv.dilation(), 1);
      assertShape(y0, cv.o(), cv.outH(), cv.outW());
      try (NDArray first = y.select(0, 0)) {
        assertClose(first.toDoubleArray(), y0, 1e-12);
      }
    }
  }

  @Test
  void largeBatchIsProcessedInChunks() {
    // One sample's float64 columns are 16 * 9 * 128 * 128 * 8 bytes = 18.9 MB, so a 64 MB budget
    // holds 3 samples: the batch of 4 runs as chunks of 3 and 1.
    Conv cv = new Conv(4, 16, 128, 128, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    double[] x = randn(7, cv.inputShape());
    double[] w = randn(8, cv.weightShape());
    double[] g = randn(9, cv.outShape());
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray xa = NDArray.of(x, cv.inputShape());
      NDArray wa = NDArray.of(w, cv.weightShape());
      NDArray ga = NDArray.of(g, cv.outShape());
      NDArray y = Convolution.conv2d(xa, wa, null, cv.stride(), cv.padding(), cv.dilation(), 1);
      assertClose(cv.forward(x, w, null), y, 1e-12);
      NDArray gx =
          Convolution.conv2dBackwardInput(
              ga, wa, cv.inputShape(), cv.stride(), cv.padding(), cv.dilation(), 1);
      assertClose(cv.backwardInput(g, w), gx, 1e-12);
      NDArray gw =
          Convolution.conv2dBackwardWeight(
              ga, xa, cv.weightShape(), cv.stride(), cv.padding(), cv.dilation(), 1);
      assertClose(cv.backwardWeight(g, x), gw, 1e-11);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // (3) Backward kernels

  @ParameterizedTest
  @MethodSource("convCases")
  void backwardMatchesReferenceAndAdjointIdentities(Conv cv) {
    double[] x = randn(11, cv.inputShape());
    double[] w = randn(12, cv.weightShape());
    double[] g = randn(13, cv.outShape());
    for (DType dtype : new DType[] {F64, F32}) {
      double tol = dtype == F64 ? 1e-12 : 1e-5;
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray xa = NDArray.of(x, cv.inputShape()).cast(dtype);
        NDArray wa = NDArray.of(w, cv.weightShape()).cast(dtype);
        NDArray ga = NDArray.of(g, cv.outShape()).cast(dtype);
        double[] xd = xa.toDoubleArray();
        double[] wd = wa.toDoubleArray();
        double[] gd = ga.toDoubleArray();

        NDArray y =
            Convolution.conv2d(xa, wa, null, cv.stride(), cv.padding(), cv.dilation(), cv.groups());
        NDArray gx =
            Convolution.conv2dBackwardInput(
                ga, wa, cv.inputShape(), cv.stride(), cv.padding(), cv.dilation(), cv.groups());
        NDArray gw =
            Convolution.conv2dBackwardWeight(
                ga, xa, cv.weightShape(), cv.stride(), cv.padding(), cv.dilation(), cv.groups());
        NDArray gb = Convolution.conv2dBackwardBias(ga);
        assertShape(gx, cv.inputShape());
        assertShape(gw, cv.weightShape());
        assertShape(gb, cv.o());
        assertEquals(dtype, gx.dtype());
        assertEquals(dtype, gw.dtype());

        assertClose(cv.backwardInput(gd, wd), gx, tol);
        assertClose(cv.backwardWeight(gd, xd), gw, tol);
        double[] biasGrad = new double[cv.o()];
        int plane = cv.outH() * cv.outW();
        for (int k = 0; k < gd.length; k++) {
          biasGrad[(k / plane) % cv.o()] += gd[k];
        }
        assertClose(biasGrad, gb, tol);

        // <conv(x; w), g> is bilinear in (x, w): it equals <x, backwardInput(g)> and
        // <w, backwardWeight(g)>.
        double lhs = dot(y.toDoubleArray(), gd);
        double scale = 1 + Math.abs(lhs);
        double adjTol = dtype == F64 ? 1e-12 : 1e-4;
        assertEquals(lhs, dot(xd, gx.toDoubleArray()), adjTol * scale, "<conv(x), g> vs <x, dx>");
        assertEquals(lhs, dot(wd, gw.toDoubleArray()), adjTol * scale, "<conv(w), g> vs <w, dw>");
      }
    }
  }

  /**
   * Per-sample weight gradients and their squared norms (materialised and ghost) against the
   * reference backward of each sample alone, and against the batch gradient they sum to.
   */
  @ParameterizedTest
  @MethodSource("convCases")
  void perSampleWeightGradientsAndNormsMatchEachSampleAlone(Conv cv) {
    double[] x = randn(21, cv.inputShape());
    double[] g = randn(22, cv.outShape());
    Conv one =
        new Conv(
            1,
            cv.c(),
            cv.h(),
            cv.w(),
            cv.o(),
            cv.kh(),
            cv.kw(),
            cv.sh(),
            cv.sw(),
            cv.ph(),
            cv.pw(),
            cv.dh(),
            cv.dw(),
            cv.groups());
    int inPer = cv.c() * cv.h() * cv.w();
    int outPer = cv.o() * cv.outH() * cv.outW();
    int wPer = cv.o() * (cv.c() / cv.groups()) * cv.kh() * cv.kw();
    for (DType dtype : new DType[] {F64, F32}) {
      double tol = dtype == F64 ? 1e-12 : 1e-5;
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray xa = NDArray.of(x, cv.inputShape()).cast(dtype);
        NDArray ga = NDArray.of(g, cv.outShape()).cast(dtype);
        double[] xd = xa.toDoubleArray();
        double[] gd = ga.toDoubleArray();
        double[] expected = new double[cv.n() * wPer];
        double[] norms = new double[cv.n()];
        for (int i = 0; i < cv.n(); i++) {
          double[] xi = java.util.Arrays.copyOfRange(xd, i * inPer, (i + 1) * inPer);
          double[] gi = java.util.Arrays.copyOfRange(gd, i * outPer, (i + 1) * outPer);
          double[] wi = one.backwardWeight(gi, xi);
          System.arraycopy(wi, 0, expected, i * wPer, wPer);
          norms[i] = dot(wi, wi);
        }
        NDArray per =
            Convolution.conv2dPerSampleWeightGrads(
                ga, xa, cv.weightShape(), cv.stride(), cv.padding(), cv.dilation(), cv.groups());
        assertShape(per, cv.n(), cv.o(), cv.c() / cv.groups(), cv.kh(), cv.kw());
        assertEquals(dtype, per.dtype());
        assertClose(expected, per, tol);
        NDArray batch =
            Convolution.conv2dBackwardWeight(
                ga, xa, cv.weightShape(), cv.stride(), cv.padding(), cv.dilation(), cv.groups());
        assertClose(batch.toDoubleArray(), per.sum(0), tol);
        for (boolean ghost : new boolean[] {false, true}) {
          NDArray sq =
              Convolution.conv2dPerSampleWeightGradSquaredNorms(
                  ga,
                  xa,
                  cv.weightShape(),
                  cv.stride(),
                  cv.padding(),
                  cv.dilation(),
                  cv.groups(),
                  ghost);
          assertShape(sq, cv.n());
          assertEquals(dtype, sq.dtype());
          assertClose(norms, sq, dtype == F64 ? 1e-11 : 1e-4);
        }
      }
    }
  }

  @Test
  void perSampleNormsAreChunked() {
    // 48 x 48 = 2304 output positions: the two float64 Gram matrices of one sample take 85 MB,
    // over the 64 MB budget, so the ghost path runs one sample per chunk.
    Conv cv = new Conv(3, 1, 48, 48, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    double[] x = randn(31, cv.inputShape());
    double[] g = randn(32, cv.outShape());
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray xa = NDArray.of(x, cv.inputShape());
      NDArray ga = NDArray.of(g, cv.outShape());
      NDArray per =
          Convolution.conv2dPerSampleWeightGrads(
              ga, xa, cv.weightShape(), cv.stride(), cv.padding(), cv.dilation(), 1);
      double[] expected;
      try (NDArray sq = per.square();
          NDArray flat = sq.reshape(cv.n(), -1)) {
        expected = flat.sum(1).toDoubleArray();
      }
      for (boolean ghost : new boolean[] {false, true}) {
        NDArray sq =
            Convolution.conv2dPerSampleWeightGradSquaredNorms(
                ga, xa, cv.weightShape(), cv.stride(), cv.padding(), cv.dilation(), 1, ghost);
        assertClose(expected, sq, 1e-10);
      }
    }
  }

  static Stream<Arguments> smallConvCases() {
    return Stream.of(
            new Conv(2, 4, 5, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2),
            new Conv(1, 2, 6, 5, 3, 2, 3, 1, 2, 1, 0, 2, 1, 1),
            new Conv(2, 3, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3))
        .map(Arguments::of);
  }

  /** Central differences of {@code L = <conv(x, w, b), g>} against the three backward kernels. */
  @ParameterizedTest
  @MethodSource("smallConvCases")
  void backwardMatchesFiniteDifferences(Conv cv) {
    double[] x = randn(21, cv.inputShape());
    double[] w = randn(22, cv.weightShape());
    double[] b = randn(23, cv.o());
    double[] g = randn(24, cv.outShape());
    double eps = 1e-6;
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray ga = NDArray.of(g, cv.outShape());
      NDArray wa = NDArray.of(w, cv.weightShape());
      NDArray xa = NDArray.of(x, cv.inputShape());
      double[] gx =
          Convolution.conv2dBackwardInput(
                  ga, wa, cv.inputShape(), cv.stride(), cv.padding(), cv.dilation(), cv.groups())
              .toDoubleArray();
      double[] gw =
          Convolution.conv2dBackwardWeight(
                  ga, xa, cv.weightShape(), cv.stride(), cv.padding(), cv.dilation(), cv.groups())
              .toDoubleArray();
      double[] gb = Convolution.conv2dBackwardBias(ga).toDoubleArray();

      assertClose(numericGradient(x, v -> convLoss(cv, v, w, b, g), eps), gx, 1e-6);
      assertClose(numericGradient(w, v -> convLoss(cv, x, v, b, g), eps), gw, 1e-6);
      assertClose(numericGradient(b, v -> convLoss(cv, x, w, v, g), eps), gb, 1e-6);
    }
  }

  static double convLoss(Conv cv, double[] x, double[] w, double[] b, double[] g) {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray y =
          Convolution.conv2d(
              NDArray.of(x, cv.inputShape()),
              NDArray.of(w, cv.weightShape()),
              NDArray.of(b),
              cv.stride(),
              cv.padding(),
              cv.dilation(),
              cv.groups());
      return dot(y.toDoubleArray(), g);
    }
  }

  static double[] numericGradient(
      double[] at, java.util.function.ToDoubleFunction<double[]> f, double eps) {
    double[] grad = new double[at.length];
    for (int i = 0; i < at.length; i++) {
      double[] plus = at.clone();
      double[] minus = at.clone();
      plus[i] += eps;
      minus[i] -= eps;
      grad[i] = (f.applyAsDouble(plus) - f.applyAsDouble(minus)) / (2 * eps);
    }
    return grad;
  }

  // ---------------------------------------------------------------------------------------------
  // (4) Pooling

  static Stream<Arguments> poolCases() {
    return Stream.of(
            // planes (n * c), h, w, kh, kw, sh, sw, ph, pw
            new Pool(2 * 3, 6, 6, 2, 2, 2, 2, 0, 0), // the classic 2x2/2
            new Pool(2 * 2, 7, 8, 3, 3, 2, 2, 1, 1), // overlapping, padded
            new Pool(3 * 2, 5, 9, 2, 3, 1, 2, 1, 1), // non-square kernel and stride
            new Pool(1 * 4, 9, 7, 3, 2, 3, 1, 0, 1), // stride > kernel rows skip input
            new Pool(2 * 1, 4, 4, 4, 4, 1, 1, 2, 2)) // whole-plane kernel, maximal padding
        .map(Arguments::of);
  }

  static int[] poolInputShape(Pool pl) {
    return new int[] {2, pl.planes() / 2, pl.h(), pl.w()};
  }

  @ParameterizedTest
  @MethodSource("poolCases")
  void poolingForwardMatchesReference(Pool pl) {
    int[] shape = poolInputShape(pl);
    int[] k = {pl.kh(), pl.kw()};
    int[] s = {pl.sh(), pl.sw()};
    int[] p = {pl.ph(), pl.pw()};
    double[] x = randn(31, shape);
    for (DType dtype : new DType[] {F64, F32}) {
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray xa = NDArray.of(x, shape).cast(dtype);
        double[] xd = xa.toDoubleArray();
        double[][] ref = pl.max(xd);
        ValuesIndices mp = Convolution.maxPool2d(xa, k, s, p);
        assertShape(mp.values(), shape[0], shape[1], pl.outH(), pl.outW());
        assertShape(mp.indices(), shape[0], shape[1], pl.outH(), pl.outW());
        assertEquals(dtype, mp.values().dtype());
        assertEquals(DType.INT64, mp.indices().dtype());
        // max is exact: the kernel copies an input element
        assertArrayEquals(ref[0], mp.values().toDoubleArray());
        assertArrayEquals(ref[1], mp.indices().toDoubleArray());

        NDArray avg = Convolution.avgPool2d(xa, k, s, p);
        assertShape(avg, shape[0], shape[1], pl.outH(), pl.outW());
        assertEquals(dtype, avg.dtype());
        assertClose(pl.avg(xd), avg, dtype == F64 ? 1e-14 : 1e-6);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("poolCases")
  void poolingBackward(Pool pl) {
    int[] shape = poolInputShape(pl);
    int[] outShape = {shape[0], shape[1], pl.outH(), pl.outW()};
    int[] k = {pl.kh(), pl.kw()};
    int[] s = {pl.sh(), pl.sw()};
    int[] p = {pl.ph(), pl.pw()};
    double[] x = randn(41, shape);
    double[] g = randn(42, outShape);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray xa = NDArray.of(x, shape);
      NDArray ga = NDArray.of(g, outShape);

      // max: each gradient goes to its window's argmax, accumulating where windows overlap
      ValuesIndices mp = Convolution.maxPool2d(xa, k, s, p);
      NDArray gx = Convolution.maxPool2dBackward(ga, mp.indices(), shape, k, s, p);
      assertShape(gx, shape);
      double[] idx = pl.max(x)[1];
      double[] routed = new double[x.length];
      int planeIn = pl.h() * pl.w();
      int planeOut = pl.outH() * pl.outW();
      for (int q = 0; q < g.length; q++) {
        routed[(q / planeOut) * planeIn + (int) idx[q]] += g[q];
      }
      assertClose(routed, gx, 1e-14);
      // random inputs have no ties, so max pooling is differentiable at x
      assertClose(
          numericGradient(x, v -> dot(maxPoolValues(v, shape, k, s, p), g), 1e-6), gx, 1e-6);

      // avg: adjoint identity and finite differences
      NDArray ya = Convolution.avgPool2d(xa, k, s, p);
      NDArray gxa = Convolution.avgPool2dBackward(ga, shape, k, s, p);
      assertShape(gxa, shape);
      double lhs = dot(ya.toDoubleArray(), g);
      assertEquals(lhs, dot(x, gxa.toDoubleArray()), 1e-12 * (1 + Math.abs(lhs)));
      assertClose(numericGradient(x, v -> avgPoolSum(v, shape, k, s, p, g), 1e-6), gxa, 1e-6);
    }
  }

  static double[] maxPoolValues(double[] x, int[] shape, int[] k, int[] s, int[] p) {
    try (NDArray xa = NDArray.of(x, shape);
        ValuesIndices mp = Convolution.maxPool2d(xa, k, s, p)) {
      return mp.values().toDoubleArray();
    }
  }

  static double avgPoolSum(double[] x, int[] shape, int[] k, int[] s, int[] p, double[] g) {
    try (NDArray xa = NDArray.of(x, shape);
        NDArray y = Convolution.avgPool2d(xa, k, s, p)) {
      return dot(y.toDoubleArray(), g);
    }
  }

  @Test
  void maxPoolTiesGoToTheFirstIndexAndGradientsAccumulate() {
    // A constant 1x1x3x3 plane: every element ties. Kernel 2, stride 1: the four windows start at
    // (0,0), (0,1), (1,0), (1,1), and each picks its top-left element.
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.full(F64, 7, 1, 1, 3, 3);
      int[] k = {2};
      int[] s = {1};
      int[] p = {0};
      ValuesIndices mp = Convolution.maxPool2d(x, k, s, p);
      assertArrayEquals(new long[] {0, 1, 3, 4}, mp.indices().toLongArray());
      assertArrayEquals(new double[] {7, 7, 7, 7}, mp.values().toDoubleArray());
      NDArray g = NDArray.of(new double[] {1, 10, 100, 1000}, 1, 1, 2, 2);
      NDArray gx = Convolution.maxPool2dBackward(g, mp.indices(), new int[] {1, 1, 3, 3}, k, s, p);
      assertArrayEquals(new double[] {1, 10, 0, 100, 1000, 0, 0, 0, 0}, gx.toDoubleArray());

      // One maximum shared by all four windows (centre of a 3x3): all gradient lands there.
      NDArray peak = NDArray.of(new double[] {0, 0, 0, 0, 5, 0, 0, 0, 0}, 1, 1, 3, 3);
      ValuesIndices mp2 = Convolution.maxPool2d(peak, k, s, p);
      assertArrayEquals(new long[] {4, 4, 4, 4}, mp2.indices().toLongArray());
      NDArray gx2 =
          Convolution.maxPool2dBackward(g, mp2.indices(), new int[] {1, 1, 3, 3}, k, s, p);
      assertArrayEquals(new double[] {0, 0, 0, 0, 1111, 0, 0, 0, 0}, gx2.toDoubleArray());

      // Padding never wins, even over negative values: indices stay inside the plane.
      NDArray neg = NDArray.full(F64, -3, 1, 1, 2, 2);
      ValuesIndices mp3 = Convolution.maxPool2d(neg, new int[] {2}, new int[] {2}, new int[] {1});
      assertArrayEquals(new double[] {-3, -3, -3, -3}, mp3.values().toDoubleArray());
      assertArrayEquals(new long[] {0, 1, 2, 3}, mp3.indices().toLongArray());
    }
  }

  @Test
  void maxPoolNanIsTheMaximumAndBadIndicesAreRejected() {
    double nan = Double.NaN;
    try (MemoryScope scope = MemoryScope.open()) {
      // One 2x2 window holding two NaNs: the value is NaN and, as PyTorch updates on every NaN
      // (val > max || isnan(val)), the index is the last NaN in row-major order.
      NDArray x = NDArray.of(new double[] {1, nan, nan, 9}, 1, 1, 2, 2);
      ValuesIndices mp = Convolution.maxPool2d(x, new int[] {2}, null, new int[] {0});
      assertTrue(Double.isNaN(mp.values().item()));
      assertEquals(2, mp.indices().toLongArray()[0]);

      // An index outside the 2x2 plane must not be written through: it is reported instead.
      NDArray g = NDArray.ones(F64, 1, 1, 1, 1);
      NDArray bad = NDArray.of(new long[] {4}, 1, 1, 1, 1);
      assertMessage(
          "outside",
          () ->
              Convolution.maxPool2dBackward(
                  g, bad, new int[] {1, 1, 2, 2}, new int[] {2}, null, new int[] {0}));
    }
  }

  @Test
  void poolingAcceptsUnbatchedInputAndDefaultStride() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(51), F64, 3, 6, 4); // (C, H, W)
      ValuesIndices mp = Convolution.maxPool2d(x, new int[] {2}, null, new int[] {0});
      assertShape(mp.values(), 3, 3, 2);
      Pool pl = new Pool(3, 6, 4, 2, 2, 2, 2, 0, 0);
      assertArrayEquals(pl.max(x.toDoubleArray())[0], mp.values().toDoubleArray());
      NDArray avg = Convolution.avgPool2d(x, new int[] {2, 2}, new int[0], new int[] {0, 0});
      assertClose(pl.avg(x.toDoubleArray()), avg, 1e-14);
      NDArray g = NDArray.ones(F64, 3, 3, 2);
      NDArray gx =
          Convolution.avgPool2dBackward(g, new int[] {3, 6, 4}, new int[] {2}, null, new int[] {0});
      double[] quarter = new double[3 * 6 * 4];
      java.util.Arrays.fill(quarter, 0.25);
      assertClose(quarter, gx, 1e-15);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // (5) Bad inputs

  @Test
  void badConvolutionInputsAreRejectedWithTheirShapes() {
    int[] one = {1};
    int[] zero = {0};
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.zeros(F64, 2, 4, 5, 5);
      NDArray w = NDArray.zeros(F64, 6, 4, 3, 3);

      // wrong ranks
      assertMessage(
          "[4, 5]", () -> Convolution.conv2d(NDArray.zeros(F64, 4, 5), w, null, one, zero, one, 1));
      assertMessage(
          "[6, 4, 3]",
          () -> Convolution.conv2d(x, NDArray.zeros(F64, 6, 4, 3), null, one, zero, one, 1));
      // channel mismatch: weight wants 3 channels, input has 4
      assertMessage(
          "[6, 3, 3, 3]",
          () -> Convolution.conv2d(x, NDArray.zeros(F64, 6, 3, 3, 3), null, one, zero, one, 1));
      // groups not dividing C (4 % 3) or O (6 % 4); weight per-group channels wrong for groups=2
      assertMessage(
          "groups 3",
          () -> Convolution.conv2d(x, NDArray.zeros(F64, 6, 1, 3, 3), null, one, zero, one, 3));
      assertMessage(
          "groups 4",
          () -> Convolution.conv2d(x, NDArray.zeros(F64, 6, 1, 3, 3), null, one, zero, one, 4));
      assertMessage("[6, 4, 3, 3]", () -> Convolution.conv2d(x, w, null, one, zero, one, 2));
      assertMessage("groups", () -> Convolution.conv2d(x, w, null, one, zero, one, 0));
      // kernel larger than the padded input, also where integer division would hide it
      assertMessage(
          "[2, 4, 5, 5]",
          () -> Convolution.conv2d(x, NDArray.zeros(F64, 6, 4, 6, 6), null, one, zero, one, 1));
      assertMessage(
          "larger",
          () ->
              Convolution.conv2d(
                  x, NDArray.zeros(F64, 6, 4, 6, 6), null, new int[] {2}, zero, one, 1));
      assertMessage(
          "dilation 3", () -> Convolution.conv2d(x, w, null, one, zero, new int[] {3}, 1));
      // mismatched or integer dtypes, bad bias
      assertMessage(
          "float32",
          () -> Convolution.conv2d(x, NDArray.zeros(F32, 6, 4, 3, 3), null, one, zero, one, 1));
      assertMessage(
          "int64",
          () ->
              Convolution.conv2d(
                  NDArray.zeros(DType.INT64, 2, 4, 5, 5),
                  NDArray.zeros(DType.INT64, 6, 4, 3, 3),
                  null,
                  one,
                  zero,
                  one,
                  1));
      assertMessage(
          "float32", () -> Convolution.conv2d(x, w, NDArray.zeros(F32, 6), one, zero, one, 1));
      assertMessage(
          "[5]", () -> Convolution.conv2d(x, w, NDArray.zeros(F64, 5), one, zero, one, 1));
      // bad sizes
      assertMessage("stride", () -> Convolution.conv2d(x, w, null, zero, zero, one, 1));
      assertMessage("padding", () -> Convolution.conv2d(x, w, null, one, new int[] {-1}, one, 1));
      assertMessage(
          "dilation", () -> Convolution.conv2d(x, w, null, one, zero, new int[] {1, 1, 1}, 1));
      assertMessage("stride", () -> Convolution.conv2d(x, w, null, null, zero, one, 1));

      // backward: gradOut of the wrong shape, shapes that do not fit
      NDArray badGrad = NDArray.zeros(F64, 2, 6, 4, 4);
      assertMessage(
          "[2, 6, 4, 4]",
          () -> Convolution.conv2dBackwardInput(badGrad, w, x.shape(), one, zero, one, 1));
      assertMessage(
          "[2, 6, 4, 4]",
          () -> Convolution.conv2dBackwardWeight(badGrad, x, w.shape(), one, zero, one, 1));
      assertMessage(
          "[2, 4, 5]",
          () ->
              Convolution.conv2dBackwardInput(badGrad, w, new int[] {2, 4, 5}, one, zero, one, 1));
      assertMessage(
          "float32",
          () ->
              Convolution.conv2dBackwardInput(
                  NDArray.zeros(F32, 2, 6, 3, 3), w, x.shape(), one, zero, one, 1));
      assertMessage("[6, 4]", () -> Convolution.conv2dBackwardBias(NDArray.zeros(F64, 6, 4)));
    }
  }

  @Test
  void badPoolingInputsAreRejectedWithTheirShapes() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.zeros(F64, 2, 3, 4, 4);
      int[] two = {2};
      int[] zero = {0};
      assertMessage(
          "[4, 4]", () -> Convolution.maxPool2d(NDArray.zeros(F64, 4, 4), two, two, zero));
      assertMessage(
          "[1, 2, 3, 4, 4]",
          () -> Convolution.avgPool2d(NDArray.zeros(F64, 1, 2, 3, 4, 4), two, two, zero));
      // padding more than half the kernel
      assertMessage("half", () -> Convolution.maxPool2d(x, new int[] {3}, two, new int[] {2}));
      assertMessage("half", () -> Convolution.avgPool2d(x, new int[] {2, 3}, two, new int[] {2}));
      // kernel larger than the padded input (and the stride must not hide it)
      assertMessage("[2, 3, 4, 4]", () -> Convolution.maxPool2d(x, new int[] {5}, one(), zero));
      assertMessage("larger", () -> Convolution.avgPool2d(x, new int[] {5}, new int[] {3}, zero));
      assertMessage("stride", () -> Convolution.maxPool2d(x, two, zero, zero));
      assertMessage("kernel", () -> Convolution.maxPool2d(x, zero, two, zero));
      assertMessage(
          "int32",
          () -> Convolution.avgPool2d(NDArray.zeros(DType.INT32, 1, 4, 4), two, two, zero));
      // backward with mismatched shapes / index dtype
      try (ValuesIndices mp = Convolution.maxPool2d(x, two, two, zero)) {
        assertMessage(
            "[2, 3, 3, 3]",
            () ->
                Convolution.maxPool2dBackward(
                    NDArray.zeros(F64, 2, 3, 3, 3), mp.indices(), x.shape(), two, two, zero));
        try (NDArray idx32 = mp.indices().cast(DType.INT32)) {
          assertMessage(
              "int64",
              () -> Convolution.maxPool2dBackward(mp.values(), idx32, x.shape(), two, two, zero));
        }
      }
      assertMessage(
          "[2, 3, 1, 1]",
          () ->
              Convolution.avgPool2dBackward(
                  NDArray.zeros(F64, 2, 3, 1, 1), x.shape(), two, two, zero));
    }
  }

  private static int[] one() {
    return new int[] {1};
  }

  /** Asserts an IllegalArgumentException whose message contains {@code fragment}. */
  private static void assertMessage(String fragment, org.junit.jupiter.api.function.Executable r) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r);
    assertTrue(
        e.getMessage().contains(fragment),
        "message '" + e.getMessage() + "' should mention '" + fragment + "'");
  }
}
