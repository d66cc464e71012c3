package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class PerExampleCaptureTest {
  private static Sequential mlp(boolean bias) {
    Generator gen = new Generator(3);
    return new Sequential(new Linear(4, 5, bias, gen), new Tanh(), new Linear(5, 2, bias, gen));
  }

  @Test
  void capturedLayersGiveTheOrdinaryValuesAndGradients() {
    for (boolean bias : new boolean[] {true, false}) {
      try (Sequential plain = mlp(bias);
          Sequential captured = mlp(bias);
          NDArray x = NDArray.randn(new Generator(9), DType.FLOAT32, 3, 4);
          MemoryScope s = MemoryScope.open()) {
        Tensor in = Tensor.of(x.share(), true);
        Tensor y1 = plain.forward(in);
        y1.square().sum().backward();
        Tensor in2 = Tensor.of(x.share(), true);
        Tensor y2;
        try (PerExampleCapture c = PerExampleCapture.open()) {
          y2 = captured.forward(in2);
          assertEquals("CapturedLinearBackward(5 -> 2)", y2.gradFn().toString());
          y2.square().sum().backward();
        }
        assertArrayEquals(y1.data().toFloatArray(), y2.data().toFloatArray(), 1e-6f);
        assertArrayEquals(in.grad().toFloatArray(), in2.grad().toFloatArray(), 1e-6f);
        for (int i = 0; i < plain.parameters().size(); i++) {
          assertArrayEquals(
              plain.parameters().get(i).grad().toFloatArray(),
              captured.parameters().get(i).grad().toFloatArray(),
              1e-6f);
        }
      }
    }
  }

  @Test
  void recordingTakesDeltasAndNoParameterGradients() {
    // one layer: delta = dL/dy = 2y for L = sum y^2, so ||g_W,i||^2 = ||2 y_i||^2 (||x_i||^2 + 1)
    try (Linear fc = new Linear(3, 2, new Generator(1));
        NDArray x = NDArray.of(new float[] {1, 2, -1, 0, 0.5f, 3}, 2, 3);
        MemoryScope s = MemoryScope.open();
        PerExampleCapture c = PerExampleCapture.open()) {
      Tensor y = fc.forward(Tensor.of(x.share()));
      c.setRecording(true);
      y.square().sum().backward();
      assertNull(fc.weight().gradOrNull());
      assertNull(fc.bias().gradOrNull());
      float[] yv = y.data().toFloatArray();
      float[] xv = x.toFloatArray();
      double[] norms = c.perExampleSquaredNorms();
      for (int i = 0; i < 2; i++) {
        double d2 = 4 * (yv[2 * i] * yv[2 * i] + yv[2 * i + 1] * yv[2 * i + 1]);
        double x2 = 0;
        for (int j = 0; j < 3; j++) {
          x2 += xv[3 * i + j] * xv[3 * i + j];
        }
        assertEquals(d2 * (x2 + 1), norms[i], 1e-5 * d2 * (x2 + 1));
      }
      assertNull(c.coversAllParameters(fc));
    }
  }

  @Test
  void coverageNamesLayersWithoutAGhostRule() {
    Generator gen = new Generator(2);
    try (Sequential m = new Sequential(new Linear(4, 4, gen), new BatchNorm1d(4));
        NDArray x = NDArray.randn(gen, DType.FLOAT32, 2, 4);
        MemoryScope s = MemoryScope.open();
        PerExampleCapture c = PerExampleCapture.open()) {
      Tensor y = m.forward(Tensor.of(x.share()));
      y.sum().backward();
      assertNotNull(c.coversAllParameters(m));
      assertEquals("BatchNorm1d has parameters and no ghost-norm rule", c.coversAllParameters(m));
    }
    try (Linear fc = new Linear(4, 2, gen);
        NDArray x = NDArray.randn(gen, DType.FLOAT32, 2, 3, 2, 4);
        MemoryScope s = MemoryScope.open();
        PerExampleCapture c = PerExampleCapture.open()) {
      Tensor y = fc.forward(Tensor.of(x.share()));
      y.sum().backward();
      assertEquals(
          "Linear called on an input of 4 dims, not (B, in) or (B, T, in)",
          c.coversAllParameters(fc));
    }
  }

  /**
   * A small CNN on (2, 10, 10): conv stride 1 with padding (100 output positions: per-example path
   * by cost), max pooling, a strided dilated conv in 2 groups with 2 x 2 output positions (ghost
   * path by cost), average pooling and a Linear head.
   */
  private static Sequential cnn(boolean bias, DType dtype) {
    Generator gen = new Generator(17);
    int[] one = {1};
    int[] two = {2};
    return new Sequential(
        new Conv2d(2, 4, new int[] {3}, one, one, one, 1, bias, dtype, gen),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(4, 32, new int[] {3}, two, one, two, 2, bias, dtype, gen),
        new Tanh(),
        new AvgPool2d(2, 1),
        new Flatten(),
        new Linear(32, 3, bias, dtype, gen));
  }

  /** Each example's flat parameter gradient of {@code sum(y^2)}, by its own backward pass. */
  private static double[][] perExampleGrads(Module m, NDArray x) {
    int b = x.shape(0);
    double[][] out = new double[b][];
    for (int i = 0; i < b; i++) {
      m.zeroGrad();
      try (MemoryScope s = MemoryScope.open()) {
        Tensor y = m.forward(Tensor.of(x.narrow(0, i, 1)));
        y.square().sum().backward();
        double[] flat = new double[(int) m.parameterCount()];
        int at = 0;
        for (Parameter p : m.parameters()) {
          double[] g = p.grad().toDoubleArray();
          System.arraycopy(g, 0, flat, at, g.length);
          at += g.length;
        }
        out[i] = flat;
      }
    }
    for (Parameter p : m.parameters()) {
      p.zeroGrad(true);
    }
    return out;
  }

  private static double squaredNorm(double[] v) {
    double s = 0;
    for (double d : v) {
      s += d * d;
    }
    return s;
  }

  @Test
  void capturedConvolutionsGiveTheOrdinaryValuesAndGradients() {
    for (boolean bias : new boolean[] {true, false}) {
      try (Sequential plain = cnn(bias, DType.FLOAT32);
          Sequential captured = cnn(bias, DType.FLOAT32);
          NDArray x = NDArray.randn(new Generator(9), DType.FLOAT32, 3, 2, 10, 10);
          MemoryScope s = MemoryScope.open()) {
        Tensor in = Tensor.of(x.share(), true);
        Tensor y1 = plain.forward(in);
        y1.square().sum().backward();
        Tensor in2 = Tensor.of(x.share(), true);
        Tensor y2;
        try (PerExampleCapture c = PerExampleCapture.open()) {
          y2 = captured.forward(in2);
          y2.square().sum().backward();
          assertEquals(3, c.plan().size());
        }
        assertArrayEquals(y1.data().toFloatArray(), y2.data().toFloatArray(), 1e-6f);
        assertArrayEquals(in.grad().toFloatArray(), in2.grad().toFloatArray(), 1e-6f);
        for (int i = 0; i < plain.parameters().size(); i++) {
          assertArrayEquals(
              plain.parameters().get(i).grad().toFloatArray(),
              captured.parameters().get(i).grad().toFloatArray(),
              1e-6f);
        }
      }
    }
  }

  @Test
  void convolutionNormsEqualEachExamplesOwnGradientNorm() {
    for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
      for (boolean bias : new boolean[] {true, false}) {
        for (PerExampleCapture.ConvNormMethod method : PerExampleCapture.ConvNormMethod.values()) {
          try (Sequential model = cnn(bias, dtype);
              NDArray x0 = NDArray.randn(new Generator(5), DType.FLOAT32, 4, 2, 10, 10);
              NDArray x = x0.cast(dtype)) {
            double[][] ref = perExampleGrads(model, x);
            try (MemoryScope s = MemoryScope.open();
                PerExampleCapture c = PerExampleCapture.open()) {
              c.setConvNormMethod(method);
              Tensor y = model.forward(Tensor.of(x.share()));
              assertNull(c.coversAllParameters(model));
              c.setRecording(true);
              y.square().sum().backward();
              for (Parameter p : model.parameters()) {
                assertNull(p.gradOrNull(), "recording computes no parameter gradients");
              }
              List<String> plan = c.plan();
              String first =
                  method == PerExampleCapture.ConvNormMethod.GHOST ? "ghost" : "per-example";
              String second =
                  method == PerExampleCapture.ConvNormMethod.PER_EXAMPLE ? "per-example" : "ghost";
              assertTrue(plan.get(0).endsWith(": " + first), plan.toString());
              assertTrue(plan.get(1).endsWith(": " + second), plan.toString());
              assertTrue(plan.get(2).startsWith("Linear"), plan.toString());
              double[] norms = c.perExampleSquaredNorms();
              double tol = dtype == DType.FLOAT64 ? 1e-10 : 1e-4;
              for (int i = 0; i < ref.length; i++) {
                double e = squaredNorm(ref[i]);
                assertEquals(e, norms[i], tol * e, dtype + " " + method + " example " + i);
              }
            }
          }
        }
      }
    }
  }

  @Test
  void exampleWeightsGiveTheWeightedSumOfPerExampleGradients() {
    // after a recording pass, a pass seeded with c_i gives sum_i c_i g_i, reusing the kept
    // per-example convolution gradients; the same as without a capture
    double[] c = {0.5, 2.0, 0.0, 1.25};
    for (PerExampleCapture.ConvNormMethod method : PerExampleCapture.ConvNormMethod.values()) {
      try (Sequential model = cnn(true, DType.FLOAT32);
          NDArray x = NDArray.randn(new Generator(6), DType.FLOAT32, 4, 2, 10, 10)) {
        double[][] ref = perExampleGrads(model, x);
        double[] expected = new double[ref[0].length];
        for (int i = 0; i < ref.length; i++) {
          for (int j = 0; j < expected.length; j++) {
            expected[j] += c[i] * ref[i][j];
          }
        }
        try (MemoryScope s = MemoryScope.open();
            PerExampleCapture cap = PerExampleCapture.open()) {
          cap.setConvNormMethod(method);
          Tensor y = model.forward(Tensor.of(x.share()));
          Tensor losses = y.square().sum(new int[] {1}, false);
          cap.setRecording(true);
          losses.backward(NDArray.ones(DType.FLOAT32, 4), true);
          cap.setRecording(false);
          assertThrows(IllegalArgumentException.class, () -> cap.setExampleWeights(new double[3]));
          cap.setExampleWeights(c);
          losses.backward(NDArray.of(c, 4).cast(DType.FLOAT32), false);
          int at = 0;
          for (Parameter p : model.parameters()) {
            double[] g = p.grad().toDoubleArray();
            for (int j = 0; j < g.length; j++) {
              double e = expected[at + j];
              assertEquals(
                  e, g[j], 1e-4 * (1 + Math.abs(e)), method + " parameter element " + (at + j));
            }
            at += g.length;
          }
        }
      }
    }
  }

  @Test
  void unbatchedOrRepeatedConvolutionsAreNotCovered() {
    Generator gen = new Generator(4);
    try (Conv2d conv = new Conv2d(2, 3, 3, gen);
        NDArray x = NDArray.randn(gen, DType.FLOAT32, 2, 6, 6);
        MemoryScope s = MemoryScope.open();
        PerExampleCapture c = PerExampleCapture.open()) {
      conv.forward(Tensor.of(x.share())).sum().backward();
      assertEquals(
          "Conv2d called on an input of 3 dims, not (B, C, H, W)", c.coversAllParameters(conv));
    }
    try (Conv2d conv = new Conv2d(2, 2, 3, 1, 1, gen);
        NDArray x = NDArray.randn(gen, DType.FLOAT32, 2, 2, 6, 6);
        MemoryScope s = MemoryScope.open();
        PerExampleCapture c = PerExampleCapture.open()) {
      conv.forward(conv.forward(Tensor.of(x.share()))).sum().backward();
      assertEquals("a Conv2d layer was called 2 times, not once", c.coversAllParameters(conv));
    }
  }

  @Test
  void theCostRulePicksGhostNormsForFewOutputPositions() {
    // T (K + O) < O K: 16 positions of 64 x 3 x 3 inputs and 128 outputs: ghost
    assertTrue(PerExampleCapture.ghostIsCheaper(16, 576, 128));
    // 28 x 28 positions of a 5 x 5 kernel on 1 channel: per-example
    assertFalse(PerExampleCapture.ghostIsCheaper(784, 25, 16));
    // 14 x 14 positions, 16 x 5 x 5 inputs, 32 outputs: per-example
    assertFalse(PerExampleCapture.ghostIsCheaper(196, 400, 32));
    // a 1 x 1 output (a Linear in disguise): ghost
    assertTrue(PerExampleCapture.ghostIsCheaper(1, 400, 32));
  }

  @Test
  void capturesDoNotNest() {
    try (PerExampleCapture c = PerExampleCapture.open()) {
      assertThrows(IllegalStateException.class, PerExampleCapture::open);
    }
    try (PerExampleCapture c = PerExampleCapture.open()) {
      assertNotNull(c);
    }
  }

  @Test
  void rowSquaresAreExactForEveryLayoutAndSize() {
    // halves of small integers: every square and every partial sum is exact in float and double
    float[] v = new float[3 * 2 * 7];
    for (int k = 0; k < v.length; k++) {
      v[k] = (k % 11 - 5) * 0.5f;
    }
    double[] want = new double[3];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 14; j++) {
        want[i] += (double) v[i * 14 + j] * v[i * 14 + j];
      }
    }
    try (NDArray a = NDArray.of(v, 3, 2, 7);
        NDArray d = a.cast(DType.FLOAT64)) {
      assertArrayEquals(want, PerExampleCapture.rowSquares(a), 0.0);
      assertArrayEquals(want, PerExampleCapture.rowSquares(d), 0.0);
    }
    // a transposed (non-contiguous) view: rows are the view's rows, (7, 3) here
    double[] wantT = new double[7];
    for (int r = 0; r < 7; r++) {
      for (int c = 0; c < 3; c++) {
        double x = v[c * 7 + r];
        wantT[r] += x * x;
      }
    }
    try (NDArray a = NDArray.of(java.util.Arrays.copyOf(v, 21), 3, 7);
        NDArray t = a.t()) {
      assertArrayEquals(wantT, PerExampleCapture.rowSquares(t), 0.0);
    }
    // above the heap threshold the engine's kernels take it: 2^20 ones per row sum exactly
    try (NDArray big = NDArray.full(DType.FLOAT32, org.emberdl.tensor.Device.CPU, 1, 2, 1 << 20)) {
      assertArrayEquals(new double[] {1 << 20, 1 << 20}, PerExampleCapture.rowSquares(big), 0.0);
    }
  }

  @Test
  void embeddingNormsScatterAddRowsByIdAndSkipThePaddingRow() {
    // example 0: ids (2, 0, 2), padding 0: row 2 gets (1, 2) + (5, 6) = (6, 8), norm^2 100; row 0
    // (padding) nothing. Example 1: ids (2, 5, 2), no padding id: row 2 (6, 8) and row 5 (3, 4),
    // 100 + 25 = 125.
    double[] dy = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6};
    long[] ids = {2, 0, 2, 2, 5, 2};
    try (NDArray grad = NDArray.of(dy, 2, 3, 2)) {
      assertArrayEquals(
          new double[] {100, 125}, PerExampleCapture.embeddingNorms(grad, ids, 2, 0), 0.0);
      // without a padding row, example 0's row 0 gets (3, 4): 100 + 25
      assertArrayEquals(
          new double[] {125, 125}, PerExampleCapture.embeddingNorms(grad, ids, 2, -1), 0.0);
    }
  }
}
