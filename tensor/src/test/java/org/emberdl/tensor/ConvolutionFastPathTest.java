package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.emberdl.tensor.testing.Approx.assertShape;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.emberdl.tensor.ConvolutionTest.Conv;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The convolution paths chosen by shape: the whole batch's im2col kept for the backward pass
 * ({@link Convolution#conv2dKeepingColumns}, {@link Convolution#conv2dBackward}) and the direct
 * float32 kernel for layers with few inputs per output, each against the plain-loop reference of
 * {@link ConvolutionTest}.
 */
class ConvolutionFastPathTest {
  private static final DType F64 = DType.FLOAT64;
  private static final DType F32 = DType.FLOAT32;

  static Stream<Arguments> ungroupedCases() {
    return Stream.of(
            // n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups
            new Conv(2, 3, 7, 6, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1), // plain
            new Conv(3, 2, 8, 9, 5, 3, 2, 2, 1, 1, 0, 1, 1, 1), // strided, non-square
            new Conv(2, 3, 9, 9, 4, 3, 3, 1, 1, 1, 2, 2, 2, 1), // padded, dilated
            new Conv(13, 1, 6, 5, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1), // 1 channel (direct in f32)
            new Conv(5, 1, 7, 6, 4, 3, 3, 1, 1, 1, 2, 1, 2, 1), // direct: padded, dilated
            new Conv(3, 2, 5, 7, 3, 2, 3, 1, 1, 1, 0, 2, 1, 1), // direct: K = 12, 2 channels
            new Conv(4, 1, 6, 6, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1), // K = 9 but strided: im2col
            // (K, L) = (144, 1024): over 512 KiB per sample, so the input gradient forms and
            // accumulates the columns one sample at a time, in 5 runs claimed by the threads
            new Conv(5, 16, 32, 32, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1))
        .map(Arguments::of);
  }

  /** The im2col of the whole batch, (K, N * L): row (c, i, j), column (sample, y, x). */
  private static double[] referenceColumns(Conv cv, double[] x) {
    int k = cv.c() * cv.kh() * cv.kw();
    int l = cv.outH() * cv.outW();
    int nl = cv.n() * l;
    double[] cols = new double[k * nl];
    cv.forEachTerm(
        (inIdx, wIdx, outIdx) -> {
          // output channel 0's terms visit every (row, column) pair that reads the image once;
          // its weight index is then the row (c, i, j)
          if (wIdx < k) {
            int sample = outIdx / (cv.o() * l);
            int pos = outIdx % l;
            cols[wIdx * nl + sample * l + pos] = x[inIdx];
          }
        });
    return cols;
  }

  @ParameterizedTest
  @MethodSource("ungroupedCases")
  void keptColumnsGiveTheReferenceOutputAndGradients(Conv cv) {
    double[] x = ConvolutionTest.randn(21, cv.inputShape());
    double[] w = ConvolutionTest.randn(22, cv.weightShape());
    double[] b = ConvolutionTest.randn(23, cv.o());
    double[] g = ConvolutionTest.randn(24, cv.outShape());
    for (DType dtype : new DType[] {F64, F32}) {
      // float32 weight gradients sum N * L products (5,120 in the largest case)
      double tol = dtype == F64 ? 1e-12 : cv.n() * cv.outH() * cv.outW() > 1000 ? 1e-4 : 1e-5;
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray xa = NDArray.of(x, cv.inputShape()).cast(dtype);
        NDArray wa = NDArray.of(w, cv.weightShape()).cast(dtype);
        NDArray ba = NDArray.of(b).cast(dtype);
        NDArray ga = NDArray.of(g, cv.outShape()).cast(dtype);
        double[] xd = xa.toDoubleArray();
        double[] wd = wa.toDoubleArray();
        double[] gd = ga.toDoubleArray();

        Convolution.Conv2dResult r =
            Convolution.conv2dKeepingColumns(
                xa, wa, ba, cv.stride(), cv.padding(), cv.dilation(), 1);
        assertShape(r.output(), cv.outShape());
        assertClose(cv.forward(xd, wd, ba.toDoubleArray()), r.output(), tol);
        boolean direct = xa.backend().hasDirectConv2d(dtype, geometry(cv));
        if (direct) {
          // the direct kernel builds no columns; the backward pass takes the input instead
          assertNull(r.columns(), "columns of a direct convolution");
        } else {
          int l = cv.outH() * cv.outW();
          assertShape(r.columns(), cv.c() * cv.kh() * cv.kw(), cv.n() * l);
          assertClose(referenceColumns(cv, xd), r.columns(), 0);
        }

        Convolution.Conv2dGrads grads =
            Convolution.conv2dBackward(
                ga,
                r.columns() == null ? xa : null,
                r.columns(),
                wa,
                cv.inputShape(),
                cv.stride(),
                cv.padding(),
                cv.dilation(),
                1,
                true,
                true,
                true);
        assertClose(cv.backwardInput(gd, wd), grads.input(), tol);
        assertClose(cv.backwardWeight(gd, xd), grads.weight(), tol);
        double[] biasGrad = new double[cv.o()];
        int plane = cv.outH() * cv.outW();
        for (int q = 0; q < gd.length; q++) {
          biasGrad[(q / plane) % cv.o()] += gd[q];
        }
        assertClose(biasGrad, grads.bias(), tol);

        // only what is asked for is computed
        Convolution.Conv2dGrads weightOnly =
            Convolution.conv2dBackward(
                ga,
                xa,
                r.columns(),
                wa,
                cv.inputShape(),
                cv.stride(),
                cv.padding(),
                cv.dilation(),
                1,
                false,
                true,
                false);
        assertNull(weightOnly.input());
        assertNull(weightOnly.bias());
        assertClose(cv.backwardWeight(gd, xd), weightOnly.weight(), tol);
      }
    }
  }

  private static Conv2dGeometry geometry(Conv cv) {
    return new Conv2dGeometry(
        cv.c(), cv.h(), cv.w(), cv.kh(), cv.kw(), cv.sh(), cv.sw(), cv.ph(), cv.pw(), cv.dh(),
        cv.dw());
  }

  @Test
  void theDirectKernelIsChosenForSmallStrideOneFloat32LayersOnly() {
    Backend cpu;
    try (NDArray any = NDArray.zeros(F32, 1)) {
      cpu = any.backend();
    }
    Conv2dGeometry firstLayer = new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 0, 0, 1, 1);
    assertTrue(cpu.hasDirectConv2d(F32, firstLayer), "1-channel 3x3, float32");
    assertFalse(cpu.hasDirectConv2d(F64, firstLayer), "float64 keeps im2col");
    assertFalse(
        cpu.hasDirectConv2d(F32, new Conv2dGeometry(32, 13, 13, 3, 3, 1, 1, 0, 0, 1, 1)),
        "K = 288");
    assertFalse(
        cpu.hasDirectConv2d(F32, new Conv2dGeometry(1, 28, 28, 3, 3, 2, 2, 0, 0, 1, 1)),
        "stride 2");
  }

  /** A 1-channel 2x2 kernel on a 3x3 image, worked out by hand, through the direct kernel. */
  @Test
  void directKernelByHand() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3).cast(F32);
      NDArray w = NDArray.of(new double[] {1, 0, -1, 2}, 1, 1, 2, 2).cast(F32);
      NDArray b = NDArray.of(new double[] {0.5}).cast(F32);
      NDArray y = Convolution.conv2d(x, w, b, new int[] {1}, new int[] {0}, new int[] {1}, 1);
      // out[y, x] = in[y, x] - in[y + 1, x] + 2 in[y + 1, x + 1] + 0.5
      // (0,0): 1 - 4 + 10 + 0.5 = 7.5; (0,1): 2 - 5 + 12 + 0.5 = 9.5
      // (1,0): 4 - 7 + 16 + 0.5 = 13.5; (1,1): 5 - 8 + 18 + 0.5 = 15.5
      assertShape(y, 1, 1, 2, 2);
      assertClose(new double[] {7.5, 9.5, 13.5, 15.5}, y, 0);
    }
  }

  @Test
  void keptColumnsAreCheckedAgainstTheConvolution() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.zeros(F64, 2, 3, 6, 6);
      NDArray w = NDArray.zeros(F64, 4, 3, 3, 3);
      NDArray g = NDArray.zeros(F64, 2, 4, 4, 4);
      NDArray wrong = NDArray.zeros(F64, 27, 16);
      int[] one = {1};
      int[] zero = {0};
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  Convolution.conv2dBackward(
                      g, null, wrong, w, x.shape(), one, zero, one, 1, false, true, false));
      assertEquals(
          "conv2dBackward: columns must be the forward's im2col matrix [27, 32] of an ungrouped"
              + " convolution, got [27, 16] for input [2, 3, 6, 6], weight [4, 3, 3, 3]",
          e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  Convolution.conv2dBackward(
                      g, null, null, w, x.shape(), one, zero, one, 1, false, true, false));
      assertEquals(
          "conv2dBackward: the weight gradient needs the forward's input or its columns; both are"
              + " null",
          e.getMessage());
    }
  }

  /** The kept columns are ordinary arrays of the caller's scope: freed when it closes. */
  @Test
  void keptColumnsAreFreedWithTheScope() {
    NDArray x = NDArray.randn(new Generator(5), F32, 4, 3, 10, 10);
    NDArray w = NDArray.randn(new Generator(6), F32, 8, 3, 3, 3);
    long before = org.emberdl.tensor.memory.Allocators.cpuAllocatedBytes();
    try (MemoryScope scope = MemoryScope.open()) {
      Convolution.Conv2dResult r =
          Convolution.conv2dKeepingColumns(
              x, w, null, new int[] {1}, new int[] {0}, new int[] {1}, 1);
      // (3 * 3 * 3, 4 * 8 * 8) floats
      assertEquals(27L * 256 * 4, r.columns().numel() * 4L);
      assertTrue(org.emberdl.tensor.memory.Allocators.cpuAllocatedBytes() > before);
    }
    assertEquals(before, org.emberdl.tensor.memory.Allocators.cpuAllocatedBytes());
    x.close();
    w.close();
  }

  /** relu(maxPool(x)): maxPool's indices on x, ReLU on the values (NaN kept, as relu keeps it). */
  @Test
  void reluMaxPoolIsMaxPoolThenRelu() {
    try (MemoryScope scope = MemoryScope.open()) {
      double[] v = ConvolutionTest.randn(31, 2, 3, 6, 5);
      v[7] = Double.NaN;
      NDArray x = NDArray.of(v, 2, 3, 6, 5).cast(F32);
      int[] k = {2};
      ValuesIndices plain = Convolution.maxPool2d(x, k, null, new int[] {0});
      ValuesIndices fused = Convolution.reluMaxPool2d(x, k, null, new int[] {0});
      assertClose(plain.indices().toDoubleArray(), fused.indices(), 0);
      double[] expected = plain.values().toDoubleArray();
      for (int i = 0; i < expected.length; i++) {
        expected[i] = Double.isNaN(expected[i]) ? Double.NaN : Math.max(expected[i], 0);
      }
      double[] got = fused.values().toDoubleArray();
      for (int i = 0; i < expected.length; i++) {
        assertEquals(expected[i], got[i], 0, "value " + i);
      }
    }
  }

  /**
   * Backend's default im2colBatch (per-sample im2col and a copy, for backends without their own)
   * against the reference columns and the CPU kernel.
   */
  @Test
  void defaultIm2colBatchMatchesTheReference() throws Exception {
    Conv cv = new Conv(3, 2, 6, 5, 1, 3, 2, 1, 2, 1, 1, 1, 1, 1);
    double[] x = ConvolutionTest.randn(41, cv.inputShape());
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray xa = NDArray.of(x, cv.inputShape());
      Backend cpu = xa.backend();
      // a Backend whose every method is the CPU backend's except im2colBatch, the interface default
      Backend viaDefault =
          (Backend)
              java.lang.reflect.Proxy.newProxyInstance(
                  Backend.class.getClassLoader(),
                  new Class<?>[] {Backend.class},
                  (proxy, method, args) ->
                      method.getName().equals("im2colBatch")
                          ? java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args)
                          : method.invoke(cpu, args));
      int k = cv.c() * cv.kh() * cv.kw();
      int nl = cv.n() * cv.outH() * cv.outW();
      NDArray byDefault = NDArray.zeros(F64, k, nl);
      NDArray byKernel = NDArray.zeros(F64, k, nl);
      viaDefault.im2colBatch(xa, geometry(cv), cv.n(), byDefault);
      cpu.im2colBatch(xa, geometry(cv), cv.n(), byKernel);
      double[] expected = referenceColumns(cv, x);
      assertClose(expected, byDefault, 0);
      assertClose(expected, byKernel, 0);
    }
  }

  /**
   * Backend's default conv2dInputGradBatch (one GEMM, then col2im per sample) and the CPU kernel
   * (runs of samples claimed by the threads) against the reference input gradient; the kernel gives
   * the same bits at 1 and 2 threads.
   */
  @Test
  void inputGradBatchByDefaultAndByKernelMatchTheReference() {
    Conv cv = new Conv(5, 16, 32, 32, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    double[] w = ConvolutionTest.randn(51, cv.weightShape());
    double[] g = ConvolutionTest.randn(52, cv.outShape());
    int k = cv.c() * cv.kh() * cv.kw();
    int l = cv.outH() * cv.outW();
    // gradOut (N, O, L) as rows (O, N * L)
    double[] rows = new double[g.length];
    for (int s = 0; s < cv.n(); s++) {
      for (int o = 0; o < cv.o(); o++) {
        System.arraycopy(g, (s * cv.o() + o) * l, rows, (o * cv.n() + s) * l, l);
      }
    }
    double[] expected = cv.backwardInput(g, w);
    int before = EmberConfig.threads();
    try (MemoryScope scope = MemoryScope.open()) {
      for (DType dtype : new DType[] {F64, F32}) {
        double tol = dtype == F64 ? 1e-12 : 1e-4;
        NDArray wa = NDArray.of(w, cv.o(), k).cast(dtype);
        NDArray ra = NDArray.of(rows, cv.o(), cv.n() * l).cast(dtype);
        Backend cpu = wa.backend();
        Backend viaDefault =
            (Backend)
                java.lang.reflect.Proxy.newProxyInstance(
                    Backend.class.getClassLoader(),
                    new Class<?>[] {Backend.class},
                    (proxy, method, args) ->
                        method.getName().equals("conv2dInputGradBatch")
                            ? java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args)
                            : method.invoke(cpu, args));
        NDArray byDefault = NDArray.zeros(dtype, cv.inputShape());
        viaDefault.conv2dInputGradBatch(ra, wa, geometry(cv), cv.n(), byDefault);
        assertClose(expected, byDefault, tol);
        EmberConfig.setThreads(1);
        NDArray oneThread = NDArray.zeros(dtype, cv.inputShape());
        cpu.conv2dInputGradBatch(ra, wa, geometry(cv), cv.n(), oneThread);
        EmberConfig.setThreads(2);
        NDArray twoThreads = NDArray.zeros(dtype, cv.inputShape());
        cpu.conv2dInputGradBatch(ra, wa, geometry(cv), cv.n(), twoThreads);
        assertClose(expected, oneThread, tol);
        assertClose(oneThread.toDoubleArray(), twoThreads, 0);
      }
    } finally {
      EmberConfig.setThreads(before);
    }
  }

  /**
   * The fused relu+max-pool backward gives the bits of {@code maxPool2dBackward(g) * step(x)}, in
   * float32 (the CPU kernel) and float64 (the default composition), with NaN, infinite, zero and
   * negative inputs and gradients, overlapping windows (3x3, stride 2) and an odd plane; and
   * refuses an index outside the plane, naming it.
   */
  @Test
  void reluMaxPoolBackwardGivesTheBitsOfTheThreeOps() {
    try (MemoryScope scope = MemoryScope.open()) {
      double[] v = ConvolutionTest.randn(61, 3, 4, 7, 9);
      v[7] = Double.NaN;
      v[20] = Double.POSITIVE_INFINITY;
      v[33] = -0.0;
      v[34] = 0.0;
      v[100] = Double.NEGATIVE_INFINITY;
      for (DType dtype : new DType[] {F32, F64}) {
        for (int[] kernel : new int[][] {{2, 2}, {3, 3}}) {
          NDArray x = NDArray.of(v, 3, 4, 7, 9).cast(dtype);
          int[] stride = {2, 2};
          int[] pad = {0, 0};
          ValuesIndices vi = Convolution.reluMaxPool2d(x, kernel, stride, pad);
          double[] gv = ConvolutionTest.randn(62, vi.values().shape());
          gv[1] = Double.NaN;
          gv[2] = Double.NEGATIVE_INFINITY;
          gv[3] = -0.0;
          NDArray g = NDArray.of(gv, vi.values().shape()).cast(dtype);
          NDArray pooled =
              Convolution.maxPool2dBackward(g, vi.indices(), x.shape(), kernel, stride, pad);
          NDArray expected = pooled.mul(x.step());
          NDArray got = Convolution.reluMaxPool2dBackward(g, vi.indices(), x, kernel, stride, pad);
          double[] e = expected.toDoubleArray();
          double[] a = got.toDoubleArray();
          for (int i = 0; i < e.length; i++) {
            assertEquals(
                Double.doubleToRawLongBits(e[i]),
                Double.doubleToRawLongBits(a[i]),
                dtype + " kernel " + kernel[0] + ": element " + i + " " + e[i] + " vs " + a[i]);
          }
        }
      }
      NDArray x = NDArray.of(v, 3, 4, 7, 9).cast(F32);
      ValuesIndices vi = Convolution.reluMaxPool2d(x, new int[] {2}, null, new int[] {0});
      long[] bad = vi.indices().toLongArray();
      bad[5] = 63; // a 7x9 plane has indices 0..62
      NDArray badIdx = NDArray.of(bad, vi.indices().shape());
      NDArray g = NDArray.full(F32, 1, vi.values().shape());
      IllegalArgumentException ex =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  Convolution.reluMaxPool2dBackward(
                      g, badIdx, x, new int[] {2}, null, new int[] {0}));
      assertEquals(
          "maxPool2dBackward: index 63 at output element 5 is outside the 7x9 input plane",
          ex.getMessage());
    }
  }
}
