package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Locale;
import java.util.stream.Stream;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.data.Batch;
import org.emberdl.data.DataLoader;
import org.emberdl.data.Dataset;
import org.emberdl.data.FashionMnist;
import org.emberdl.optim.Adam;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.cuda.DeviceUnderTest;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Training on {@code cuda:0} against the CPU: a 784-256-128-10 ReLU MLP (the same initial weights,
 * drawn on the CPU and copied), Adam (lr 1e-3), cross-entropy, batches of 64.
 *
 * <ul>
 *   <li>{@link #shortRunMatchesTheCpu}: 30 steps ({@code -Dember.train.steps}) on
 *       Fashion-MNIST-shaped synthetic data (784 values in [0, 1), the class marked by a brighter
 *       block of 78 pixels: learnable, and the same on every machine); every step's loss on cuda:0
 *       within {@code 1e-4 + 1e-3 |cpu|} of the CPU's, as float32 GEMMs sum in another order (tiles
 *       or cuBLAS) and Adam carries the differences on.
 *   <li>{@link #oneEpochOfFashionMnist}: one epoch of the real training set on a GPU (skipped on
 *       the emulated device and without the data): the test accuracies on cuda:0 and the CPU within
 *       1.5 points, both above 80%.
 * </ul>
 */
public class DeviceTrainingTest {
  static final double ABS = 1e-4;
  static final double REL = 1e-3;

  static Stream<Device> devices() {
    return Stream.of(Device.cuda(0));
  }

  /** The MLP with its parameters on one device (nn's layers make them on the CPU). */
  static final class Mlp extends Module {
    private final Parameter[] p = new Parameter[6];

    Mlp(Device d, long seed) {
      Generator gen = new Generator(seed);
      int[] sizes = {784, 256, 128, 10};
      for (int l = 0; l < 3; l++) {
        try (Linear layer = new Linear(sizes[l], sizes[l + 1], gen);
            NDArray w = layer.weight().data().to(d);
            NDArray b = layer.bias().data().to(d)) {
          p[2 * l] = registerParameter("w" + l, w.copy());
          p[2 * l + 1] = registerParameter("b" + l, b.copy());
        }
      }
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor h = x;
      for (int l = 0; l < 3; l++) {
        h = Linear.linear(h, p[2 * l], p[2 * l + 1]);
        if (l < 2) {
          h = h.relu();
        }
      }
      return h;
    }
  }

  /**
   * Batch {@code s}: 64 x 784 values in [0, 1), each example's class (uniform in 0..9) marked by
   * adding 0.5 to its block of 78 pixels.
   */
  static Batch synthetic(int s) {
    float[] x;
    try (NDArray a = NDArray.rand(new Generator(1000 + s), DType.FLOAT32, 64, 784)) {
      x = a.toFloatArray();
    }
    java.util.Random classes = new java.util.Random(1000 + s);
    long[] y = new long[64];
    for (int i = 0; i < 64; i++) {
      y[i] = classes.nextInt(10);
      for (int k = 0; k < 78; k++) {
        x[i * 784 + (int) y[i] * 78 + k] += 0.5f;
      }
    }
    return new Batch(NDArray.of(x, 64, 784), NDArray.of(y));
  }

  /** One Adam step on {@code (x, y)} (host arrays, copied to the model's device); the loss. */
  static double step(Mlp m, Adam opt, CrossEntropyLoss ce, Device d, NDArray x, NDArray y) {
    try (MemoryScope scope = MemoryScope.open()) {
      opt.zeroGrad();
      Tensor loss = ce.apply(m.forward(Tensor.of(x.to(d))), y.to(d));
      loss.backward();
      opt.step();
      return loss.item();
    }
  }

  static double[] shortRun(Device d, int steps) {
    double[] losses = new double[steps];
    try (Mlp m = new Mlp(d, 42);
        Adam opt = new Adam(m, 1e-3);
        CrossEntropyLoss ce = new CrossEntropyLoss()) {
      for (int s = 0; s < steps; s++) {
        try (Batch b = synthetic(s)) {
          losses[s] = step(m, opt, ce, d, b.x(), b.y());
        }
      }
    }
    return losses;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void shortRunMatchesTheCpu(Device d, TestReporter report) {
    DeviceUnderTest.require(d);
    // 30: about 11 s on the emulated device, CPU run included
    int steps = Integer.getInteger("ember.train.steps", 30);
    double[] cpu = shortRun(Device.CPU, steps);
    double[] got = shortRun(d, steps);
    double worst = 0;
    for (int s = 0; s < steps; s++) {
      double diff = Math.abs(got[s] - cpu[s]);
      worst = Math.max(worst, diff / (ABS + REL * Math.abs(cpu[s])));
      assertTrue(
          diff <= ABS + REL * Math.abs(cpu[s]),
          String.format(Locale.ROOT, "step %d: %s loss %.7f, cpu %.7f", s, d, got[s], cpu[s]));
    }
    if (steps >= 10) {
      // it learns: the last step's loss is well below the first's (ln 10 = 2.30)
      assertTrue(cpu[steps - 1] < cpu[0] - 0.2, "loss " + cpu[0] + " -> " + cpu[steps - 1]);
    }
    report.publishEntry(
        "detail",
        String.format(
            Locale.ROOT,
            "%d steps, loss %.4f -> %.4f; max |%s - cpu| %.2e (%.0f%% of the tolerance)",
            steps,
            cpu[0],
            got[steps - 1],
            d,
            maxDiff(cpu, got),
            100 * worst));
  }

  /**
   * Cross-entropy on {@code d} with host labels (an ignored one) and host class weights, as a Spark
   * stage passes them: the CPU's loss and gradient. Before, the ignored-target path made its ones
   * on the CPU and failed with "arrays are on different devices".
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void crossEntropyTakesHostLabelsAndWeights(Device d) {
    DeviceUnderTest.require(d);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray target = NDArray.of(new long[] {0, CrossEntropyLoss.DEFAULT_IGNORE_INDEX, 2});
      // zero logits: every kept example's loss is ln 3, so the mean is ln 3 = 1.0986122886681098
      try (CrossEntropyLoss plain = new CrossEntropyLoss()) {
        Tensor zeros = Tensor.of(NDArray.zeros(DType.FLOAT64, d, 3, 3));
        assertEquals(1.0986122886681098, plain.apply(zeros, target).item(), 1e-15);
      }
      NDArray logits = NDArray.of(new double[] {0.5, -1, 2, 1.5, 0, -0.5, -2, 1, 0.25}, 3, 3);
      NDArray weight = NDArray.of(new double[] {1, 2, 0.5});
      double[] cpuLoss = new double[1];
      double[][] grads = new double[2][];
      for (Device on : new Device[] {Device.CPU, d}) {
        try (CrossEntropyLoss ce =
            CrossEntropyLoss.builder().weight(weight).labelSmoothing(0.1).build()) {
          Tensor x = Tensor.of(logits.to(on).copy(), true);
          Tensor loss = ce.apply(x, target);
          loss.backward();
          if (on.equals(Device.CPU)) {
            cpuLoss[0] = loss.item();
            grads[0] = x.grad().toDoubleArray();
          } else {
            assertEquals(cpuLoss[0], loss.item(), 1e-12, "loss on " + d);
            grads[1] = x.grad().toDoubleArray();
          }
        }
      }
      assertArrayEquals(grads[0], grads[1], 1e-12, "gradient on " + d);
    }
  }

  private static double maxDiff(double[] a, double[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  /** Trains one epoch on {@code d}; returns {test accuracy, last 100 steps' mean loss, seconds}. */
  static double[] epoch(Device d, Dataset train, Dataset test) {
    long t0 = System.nanoTime();
    double tail = 0;
    try (Mlp m = new Mlp(d, 42);
        Adam opt = new Adam(m, 1e-3);
        CrossEntropyLoss ce = new CrossEntropyLoss()) {
      DataLoader loader = new DataLoader(train, 64, true, true, 7);
      int n = loader.numBatches();
      int i = 0;
      for (Batch b : loader.epoch(0)) {
        try (b) {
          double loss = step(m, opt, ce, d, b.x(), b.y());
          if (i++ >= n - 100) {
            tail += loss / 100;
          }
        }
      }
      long correct;
      try (NoGrad ignored = NoGrad.enter();
          MemoryScope scope = MemoryScope.open()) {
        NDArray logits = m.forward(Tensor.of(test.features().to(d))).data();
        NDArray predicted = logits.argmax(1, false).to(Device.CPU);
        try (NDArray labels = test.labels().cast(predicted.dtype());
            NDArray hit = predicted.eq(labels);
            NDArray hits = hit.cast(DType.INT64)) {
          correct = (long) hits.sum().item();
        }
      }
      return new double[] {correct / (double) test.size(), tail, (System.nanoTime() - t0) / 1e9};
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void oneEpochOfFashionMnist(Device d, TestReporter report) throws Exception {
    DeviceUnderTest.require(d);
    assumeFalse(DeviceUnderTest.emulated(), "a real GPU's run (an epoch is minutes emulated)");
    // scripts/gpu-check.sh carries the data to a GPU machine and names it here
    java.nio.file.Path dir =
        java.nio.file.Path.of(
            System.getProperty("ember.fashionMnist.dir", FashionMnist.DEFAULT_DIR.toString()));
    assumeTrue(
        FashionMnist.isAvailable(dir),
        "no Fashion-MNIST in "
            + dir
            + " (carry tensor/target/gpu-check-data, or set -Dember.fashionMnist.dir)");
    try (Dataset trainImages = FashionMnist.train(dir);
        Dataset train = trainImages.flattened();
        Dataset testImages = FashionMnist.test(dir);
        Dataset test = testImages.flattened()) {
      double[] cpu = epoch(Device.CPU, train, test);
      double[] got = epoch(d, train, test);
      report.publishEntry(
          "detail",
          String.format(
              Locale.ROOT,
              "test accuracy %s %.2f%% (%.1f s), cpu %.2f%% (%.1f s); last-100 loss %.4f vs %.4f",
              d,
              100 * got[0],
              got[2],
              100 * cpu[0],
              cpu[2],
              got[1],
              cpu[1]));
      assertTrue(got[0] > 0.80, "accuracy on " + d + ": " + got[0]);
      assertEquals(cpu[0], got[0], 0.015, "test accuracy, " + d + " vs cpu");
    }
  }
}
