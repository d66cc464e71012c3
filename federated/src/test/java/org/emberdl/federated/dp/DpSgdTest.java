package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.AvgPool2d;
import org.emberdl.nn.BatchNorm1d;
import org.emberdl.nn.Conv2d;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Dropout;
import org.emberdl.nn.Flatten;
import org.emberdl.nn.LayerNorm;
import org.emberdl.nn.Linear;
import org.emberdl.nn.MSELoss;
import org.emberdl.nn.MaxPool2d;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;
import org.emberdl.nn.ReLU;
import org.emberdl.nn.Reduction;
import org.emberdl.nn.Sequential;
import org.emberdl.nn.Tanh;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class DpSgdTest {
  private static final int IN = 6;
  private static final int HIDDEN = 9;
  private static final int CLASSES = 4;
  private static final int B = 10;

  private static Sequential mlp(boolean bias, long seed) {
    Generator gen = new Generator(seed);
    return new Sequential(
        new Linear(IN, HIDDEN, bias, gen), new ReLU(), new Linear(HIDDEN, CLASSES, bias, gen));
  }

  /** Inputs whose rows have very different scales, so per-example norms spread widely. */
  private static NDArray inputs(long seed, int b, int in) {
    try (NDArray r = NDArray.randn(new Generator(seed), DType.FLOAT32, b, in)) {
      float[] v = r.toFloatArray();
      for (int i = 0; i < b; i++) {
        float scale = (float) Math.pow(2.0, i % 5 - 2);
        for (int j = 0; j < in; j++) {
          v[i * in + j] *= scale;
        }
      }
      return NDArray.of(v, b, in);
    }
  }

  private static NDArray classes(int b) {
    long[] t = new long[b];
    for (int i = 0; i < b; i++) {
      t[i] = (i * 3 + 1) % CLASSES;
    }
    return NDArray.of(t, b);
  }

  /**
   * Reference: each example's whole gradient by its own forward and backward pass, with the loss
   * summed, read parameter by parameter (independent of DpSgd's code).
   */
  private static double[][] perExampleGrads(
      Module model, NDArray x, NDArray y, DpSgd.PerExampleLoss loss) {
    int b = x.shape(0);
    double[][] out = new double[b][];
    for (int i = 0; i < b; i++) {
      for (Parameter p : model.parameters()) {
        p.zeroGrad(true);
      }
      try (NDArray xi = x.narrow(0, i, 1);
          NDArray yi = y.narrow(0, i, 1);
          Tensor in = Tensor.of(xi.copy());
          Tensor o = model.forward(in);
          Tensor l = loss.apply(o, yi);
          Tensor s = l.sum()) {
        s.backward();
      }
      double[] flat = new double[(int) model.parameterCount()];
      int at = 0;
      for (Parameter p : model.parameters()) {
        double[] g = p.grad().toDoubleArray();
        System.arraycopy(g, 0, flat, at, g.length);
        at += g.length;
      }
      out[i] = flat;
    }
    for (Parameter p : model.parameters()) {
      p.zeroGrad(true);
    }
    return out;
  }

  private static double norm(double[] v) {
    double s = 0;
    for (double d : v) {
      s += d * d;
    }
    return Math.sqrt(s);
  }

  private static double[] clippedSumOf(double[][] grads, double c) {
    double[] sum = new double[grads[0].length];
    for (double[] g : grads) {
      double f = Math.min(1, c / (norm(g) + 1e-6));
      for (int j = 0; j < g.length; j++) {
        sum[j] += f * g[j];
      }
    }
    return sum;
  }

  private static void assertClose(double[] expected, double[] actual, double rel) {
    assertEquals(expected.length, actual.length);
    double scale = Math.max(1e-3, norm(expected) / Math.sqrt(expected.length));
    for (int j = 0; j < expected.length; j++) {
      double tol = rel * Math.max(Math.abs(expected[j]), scale);
      assertEquals(expected[j], actual[j], tol, "element " + j);
    }
  }

  @Test
  void ghostNormsEqualMaterialisedNormsWithAndWithoutBias() {
    for (boolean bias : new boolean[] {true, false}) {
      try (Sequential model = mlp(bias, 11);
          CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
          NDArray x = inputs(5, B, IN);
          NDArray y = classes(B)) {
        double[][] ref = perExampleGrads(model, x, y, ce::apply);
        try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, 1e9)) {
          assertEquals(DpSgd.Method.GHOST, s.method());
          for (int i = 0; i < B; i++) {
            double expected = norm(ref[i]);
            assertEquals(
                expected, s.norms()[i], 1e-5 * expected, "bias=" + bias + ", example " + i);
          }
        }
      }
    }
  }

  @Test
  void ghostNormsHoldForAVectorValuedLoss() {
    // MSE with Reduction.NONE gives (B, out): the values of one example are summed
    try (Sequential model = mlp(true, 12);
        NDArray x = inputs(6, B, IN);
        NDArray y = NDArray.randn(new Generator(7), DType.FLOAT32, B, CLASSES)) {
      MSELoss mse = new MSELoss(Reduction.NONE);
      double[][] ref = perExampleGrads(model, x, y, mse::apply);
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, mse::apply, 1e9)) {
        assertEquals(DpSgd.Method.GHOST, s.method());
        for (int i = 0; i < B; i++) {
          assertEquals(norm(ref[i]), s.norms()[i], 1e-5 * norm(ref[i]));
        }
      }
    }
  }

  @Test
  void clippedSumEqualsSumOfIndividuallyClippedGradients() {
    for (boolean bias : new boolean[] {true, false}) {
      try (Sequential model = mlp(bias, 21);
          CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
          NDArray x = inputs(8, B, IN);
          NDArray y = classes(B)) {
        double[][] ref = perExampleGrads(model, x, y, ce::apply);
        double[] norms = new double[B];
        for (int i = 0; i < B; i++) {
          norms[i] = norm(ref[i]);
        }
        double[] sorted = norms.clone();
        Arrays.sort(sorted);
        double c = (sorted[B / 2 - 1] + sorted[B / 2]) / 2; // half clipped, half not
        long clipped = Arrays.stream(norms).filter(n -> n > c).count();
        assertTrue(clipped > 0 && clipped < B, "some examples clipped, some not: " + clipped);
        double[] expected = clippedSumOf(ref, c);
        try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
          assertEquals(DpSgd.Method.GHOST, s.method());
          assertClose(expected, s.sum().toDoubleArray(), 1e-5);
          // every clipped example contributes norm C at most: the sum's norm is bounded
          assertTrue(norm(s.sum().toDoubleArray()) <= B * c * (1 + 1e-5));
        }
        // the forced materialised path agrees
        try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c, false)) {
          assertEquals(DpSgd.Method.MATERIALIZED, s.method());
          assertClose(expected, s.sum().toDoubleArray(), 1e-5);
        }
      }
    }
  }

  @Test
  void flattenedModelsGiveTheSameClippedSum() {
    try (Sequential model = mlp(true, 31);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = inputs(9, B, IN);
        NDArray y = classes(B)) {
      double[][] ref = perExampleGrads(model, x, y, ce::apply);
      double c = 0.5 * norm(ref[3]);
      model.flatParameters();
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
        assertClose(clippedSumOf(ref, c), s.sum().toDoubleArray(), 1e-5);
        // the model's flat gradient buffer holds the clipped sum too
        assertArrayEquals(
            s.sum().toFloatArray(), model.flatParameters().grads().toFloatArray(), 0f);
      }
    }
  }

  @Test
  void layersWithoutAGhostRuleFallBackToMaterialisedGradients() {
    Generator gen = new Generator(41);
    try (Sequential model =
            new Sequential(
                new Linear(IN, HIDDEN, gen),
                new LayerNorm(HIDDEN),
                // a subclass may compute anything: only Linear itself has the ghost rule
                new Linear(HIDDEN, HIDDEN, gen) {},
                new Tanh(),
                new Linear(HIDDEN, CLASSES, gen));
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = inputs(10, B, IN);
        NDArray y = classes(B)) {
      double[][] ref = perExampleGrads(model, x, y, ce::apply);
      double[] norms = Arrays.stream(ref).mapToDouble(DpSgdTest::norm).sorted().toArray();
      double c = norms[B / 2];
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
        assertEquals(DpSgd.Method.MATERIALIZED, s.method());
        assertClose(clippedSumOf(ref, c), s.sum().toDoubleArray(), 1e-5);
        for (int i = 0; i < B; i++) {
          assertEquals(norm(ref[i]), s.norms()[i], 1e-5 * norm(ref[i]));
        }
      }
    }
  }

  @Test
  void aLinearLayerUsedTwiceFallsBack() {
    Generator gen = new Generator(43);
    Linear shared = new Linear(IN, IN, gen);
    Module twice =
        new Module() {
          {
            registerModule("shared", shared);
          }

          @Override
          public Tensor forward(Tensor input) {
            try (Tensor h = shared.forward(input);
                Tensor a = h.tanh()) {
              return shared.forward(a);
            }
          }
        };
    try (twice;
        NDArray x = inputs(12, B, IN);
        NDArray y = NDArray.randn(new Generator(13), DType.FLOAT32, B, IN)) {
      MSELoss mse = new MSELoss(Reduction.NONE);
      double[][] ref = perExampleGrads(twice, x, y, mse::apply);
      double c = 0.3 * norm(ref[0]);
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(twice, x, y, mse::apply, c)) {
        assertEquals(DpSgd.Method.MATERIALIZED, s.method());
        assertClose(clippedSumOf(ref, c), s.sum().toDoubleArray(), 1e-5);
      }
    }
  }

  /**
   * A small CNN on (1, 8, 8): conv stride 1 with padding (64 output positions: per-example
   * gradients by cost), ReLU, max pooling, conv stride 2 with padding (2 x 2 output positions:
   * ghost norm by cost), Tanh, Flatten, a Linear head.
   */
  private static Sequential cnn(boolean bias, long seed) {
    Generator gen = new Generator(seed);
    int[] one = {1};
    return new Sequential(
        new Conv2d(1, 4, new int[] {3}, one, one, one, 1, bias, DType.FLOAT32, gen),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(4, 8, new int[] {3}, new int[] {2}, one, one, 1, bias, DType.FLOAT32, gen),
        new Tanh(),
        new Flatten(),
        new Linear(32, CLASSES, bias, gen));
  }

  private static NDArray images(long seed, int b) {
    try (NDArray flat = inputs(seed, b, 64);
        NDArray shaped = flat.reshape(b, 1, 8, 8)) {
      return shaped.copy();
    }
  }

  @Test
  void cnnNormsAndClippedSumEqualMaterialisedGradients() {
    for (boolean bias : new boolean[] {true, false}) {
      try (Sequential model = cnn(bias, 91);
          CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
          NDArray x = images(17, B);
          NDArray y = classes(B)) {
        double[][] ref = perExampleGrads(model, x, y, ce::apply);
        double[] norms = new double[B];
        for (int i = 0; i < B; i++) {
          norms[i] = norm(ref[i]);
        }
        double[] sorted = norms.clone();
        Arrays.sort(sorted);
        double c = (sorted[B / 2 - 1] + sorted[B / 2]) / 2; // half clipped, half under the clip
        long clipped = Arrays.stream(norms).filter(n -> n > c).count();
        assertTrue(clipped > 0 && clipped < B, "some examples clipped, some not: " + clipped);
        double[] expected = clippedSumOf(ref, c);
        try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
          assertEquals(DpSgd.Method.GHOST, s.method());
          for (int i = 0; i < B; i++) {
            assertEquals(
                norms[i], s.norms()[i], 1e-4 * norms[i], "bias=" + bias + ", example " + i);
          }
          assertClose(expected, s.sum().toDoubleArray(), 1e-4);
          assertTrue(norm(s.sum().toDoubleArray()) <= B * c * (1 + 1e-4));
          // the model's gradients hold the clipped sum too
          try (NDArray g = DpSgd.flatGrad(model)) {
            assertClose(expected, g.toDoubleArray(), 1e-4);
          }
        }
        try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c, false)) {
          assertEquals(DpSgd.Method.MATERIALIZED, s.method());
          assertClose(expected, s.sum().toDoubleArray(), 1e-4);
        }
      }
    }
  }

  @Test
  void cnnWithAveragePoolingAndDropoutTakesTheFastPath() {
    Generator gen = new Generator(93);
    try (Sequential model =
            new Sequential(
                new Conv2d(1, 6, 3, 1, 1, gen),
                new ReLU(),
                new AvgPool2d(2),
                new Dropout(0.25, new Generator(94)),
                new Flatten(),
                new Linear(6 * 4 * 4, CLASSES, gen));
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = images(18, B);
        NDArray y = classes(B);
        DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, 0.05)) {
      assertEquals(DpSgd.Method.GHOST, s.method());
      for (double n : s.norms()) {
        assertTrue(n > 0 && Double.isFinite(n), "norm " + n);
      }
      assertTrue(norm(s.sum().toDoubleArray()) <= B * 0.05 * (1 + 1e-4));
    }
  }

  @Test
  void cnnWithLayerNormTakesTheGhostPath() {
    Generator gen = new Generator(95);
    try (Sequential model =
            new Sequential(
                new Conv2d(1, 2, 3, 1, 1, gen),
                new LayerNorm(2, 8, 8),
                new Tanh(),
                new Flatten(),
                new Linear(2 * 8 * 8, CLASSES, gen));
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = images(19, B);
        NDArray y = classes(B)) {
      double[][] ref = perExampleGrads(model, x, y, ce::apply);
      double c = 0.5 * norm(ref[2]);
      double[] refNorms = new double[B];
      for (int i = 0; i < B; i++) {
        refNorms[i] = norm(ref[i]);
      }
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
        assertEquals(DpSgd.Method.GHOST, s.method(), "LayerNorm has a per-example rule");
        assertClose(refNorms, s.norms(), 1e-4);
        assertClose(clippedSumOf(ref, c), s.sum().toDoubleArray(), 1e-4);
      }
    }
  }

  @Test
  void batchNormIsRefused() {
    Generator gen = new Generator(51);
    try (Sequential model =
            new Sequential(
                new Linear(IN, HIDDEN, gen),
                new BatchNorm1d(HIDDEN),
                new ReLU(),
                new Linear(HIDDEN, CLASSES, gen));
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = inputs(14, B, IN);
        NDArray y = classes(B)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> DpSgd.clippedSum(model, x, y, ce::apply, 1.0));
      assertTrue(e.getMessage().contains("BatchNorm1d"), e.getMessage());
      assertTrue(e.getMessage().contains("not allowed under DP-SGD"), e.getMessage());
    }
  }

  @Test
  void releasedSumMinusClippedSumIsGaussianWithStdSigmaC() {
    double sigma = 1.3;
    double c = 0.7;
    double expected = 4.0;
    DpSgd dp = new DpSgd(c, sigma, expected);
    int draws = 20;
    long n = 0;
    double sum = 0;
    double sumSq = 0;
    try (Sequential model = mlp(true, 61);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = inputs(15, B, IN);
        NDArray y = classes(B);
        DpSgd.ClippedSum exact = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
      double[] clipped = exact.sum().toDoubleArray();
      for (int d = 0; d < draws; d++) {
        try (NDArray noisy = dp.noisyGradient(model, x, y, ce::apply, Generator.forTask(7, d, 0))) {
          double[] v = noisy.toDoubleArray();
          for (int j = 0; j < v.length; j++) {
            double noise = v[j] * expected - clipped[j];
            n++;
            sum += noise;
            sumSq += noise * noise;
          }
        }
      }
      // determinism: the same generator state gives the same noisy gradient
      try (NDArray a = dp.noisyGradient(model, x, y, ce::apply, Generator.forTask(7, 3, 0));
          NDArray b = dp.noisyGradient(model, x, y, ce::apply, Generator.forTask(7, 3, 0));
          NDArray other = dp.noisyGradient(model, x, y, ce::apply, Generator.forTask(7, 4, 0))) {
        assertArrayEquals(a.toFloatArray(), b.toFloatArray(), 0f);
        assertTrue(!Arrays.equals(a.toFloatArray(), other.toFloatArray()));
      }
    }
    double mean = sum / n;
    double std = Math.sqrt(sumSq / n - mean * mean);
    double target = sigma * c;
    // within 5 standard errors: SE(mean) = s/sqrt(n), SE(std) ~ s/sqrt(2n) for a Gaussian
    assertEquals(0, mean, 5 * target / Math.sqrt(n), "mean over " + n + " values");
    assertEquals(target, std, 5 * target / Math.sqrt(2.0 * n), "std over " + n + " values");
  }

  @Test
  void withoutNoiseTheGradientIsTheClippedSumOverTheExpectedBatchSize() {
    DpSgd dp = new DpSgd(0.5, 0, 8);
    try (Sequential model = mlp(true, 71);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = inputs(16, B, IN);
        NDArray y = classes(B)) {
      double[] expected = clippedSumOf(perExampleGrads(model, x, y, ce::apply), 0.5);
      for (int j = 0; j < expected.length; j++) {
        expected[j] /= 8;
      }
      try (NDArray g = dp.noisyGradient(model, x, y, ce::apply, new Generator(1))) {
        assertClose(expected, g.toDoubleArray(), 1e-5);
      }
    }
  }

  @Test
  void anEmptyBatchReleasesNoiseAlone() {
    DpSgd dp = new DpSgd(1.0, 2.0, 5);
    try (Sequential model = mlp(true, 81);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = NDArray.zeros(DType.FLOAT32, 0, IN);
        NDArray y = NDArray.of(new long[0], 0);
        NDArray g = dp.noisyGradient(model, x, y, ce::apply, new Generator(3));
        NDArray noise = NDArray.normal(new Generator(3), DType.FLOAT32, 0, 2.0, g.shape());
        NDArray scaled = noise.div(5)) {
      assertEquals(model.parameterCount(), g.numel());
      assertArrayEquals(scaled.toFloatArray(), g.toFloatArray(), 1e-6f);
    }
  }

  @Test
  void poissonSampleSizeHasBinomialMeanAndVariance() {
    int n = 1000;
    double q = 0.05;
    int seeds = 2000;
    double sum = 0;
    double sumSq = 0;
    for (int s = 0; s < seeds; s++) {
      int[] idx = DpSgd.poissonSample(n, q, Generator.forTask(99, s, 0));
      for (int k = 0; k < idx.length; k++) {
        assertTrue(idx[k] >= 0 && idx[k] < n);
        if (k > 0) {
          assertTrue(idx[k] > idx[k - 1], "increasing, distinct");
        }
      }
      sum += idx.length;
      sumSq += (double) idx.length * idx.length;
    }
    double mean = sum / seeds;
    double var = (sumSq - seeds * mean * mean) / (seeds - 1);
    double expectedMean = q * n;
    double expectedVar = q * (1 - q) * n;
    // within 5 standard errors: SE(mean) = sqrt(var / seeds); SE(var) ~ var sqrt(2 / (seeds - 1))
    assertEquals(expectedMean, mean, 5 * Math.sqrt(expectedVar / seeds));
    assertEquals(expectedVar, var, 5 * expectedVar * Math.sqrt(2.0 / (seeds - 1)));
  }

  @Test
  void poissonSampleIsDeterministicPerSeed() {
    int[] a = DpSgd.poissonSample(500, 0.1, Generator.forTask(1, 2, 3));
    int[] b = DpSgd.poissonSample(500, 0.1, Generator.forTask(1, 2, 3));
    int[] c = DpSgd.poissonSample(500, 0.1, Generator.forTask(1, 3, 3));
    assertArrayEquals(a, b);
    assertTrue(!Arrays.equals(a, c));
    assertEquals(0, DpSgd.poissonSample(500, 0, new Generator(1)).length);
    assertEquals(500, DpSgd.poissonSample(500, 1, new Generator(1)).length);
    assertEquals(0, DpSgd.poissonSample(0, 0.5, new Generator(1)).length);
  }
}
