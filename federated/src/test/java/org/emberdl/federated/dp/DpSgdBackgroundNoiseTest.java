package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Dropout;
import org.emberdl.nn.Linear;
import org.emberdl.nn.Reduction;
import org.emberdl.nn.Sequential;
import org.emberdl.nn.Tanh;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;

/**
 * {@link DpSgd#noisyGradient} with the noise drawn on the background thread against the same call
 * drawing it afterwards on the calling thread, and {@link NoiseDraw}'s ownership and failures.
 */
class DpSgdBackgroundNoiseTest {
  private static final int IN = 7;
  private static final int B = 12;
  private static final double C = 0.8;
  private static final double SIGMA = 1.3;
  private static final double EXPECTED = 9.0;

  private static Sequential mlp(DType dtype, Generator dropoutGen) {
    Generator gen = new Generator(5);
    return dropoutGen == null
        ? new Sequential(
            new Linear(IN, 11, true, dtype, gen), new Tanh(), new Linear(11, 3, true, dtype, gen))
        : new Sequential(
            new Linear(IN, 11, true, dtype, gen),
            new Tanh(),
            new Dropout(0.3, dropoutGen),
            new Linear(11, 3, true, dtype, gen));
  }

  private static NDArray inputs(DType dtype) {
    try (NDArray r = NDArray.randn(new Generator(9), DType.FLOAT64, B, IN)) {
      return r.cast(dtype);
    }
  }

  private static NDArray classes() {
    long[] t = new long[B];
    for (int i = 0; i < B; i++) {
      t[i] = (i * 5 + 2) % 3;
    }
    return NDArray.of(t, B);
  }

  /** Bit patterns, so that equality means the same bits (not merely within a tolerance). */
  private static long[] bits(NDArray a) {
    double[] v = a.toDoubleArray();
    long[] out = new long[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Double.doubleToRawLongBits(v[i]);
    }
    return out;
  }

  /** The background draw, the calling-thread draw and clippedSum + privatize agree bit for bit. */
  private static void assertSameBits(DType dtype, long startPosition) {
    assertSameBits(new DpSgd(C, SIGMA, EXPECTED, true), dtype, startPosition);
  }

  private static void assertSameBits(DpSgd background, DType dtype, long startPosition) {
    DpSgd inline = new DpSgd(C, SIGMA, EXPECTED, false);
    try (Sequential model = mlp(dtype, null);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = inputs(dtype);
        NDArray y = classes()) {
      for (int round = 0; round < 3; round++) {
        Generator g1 = Generator.forTask(11, round, 2);
        Generator g2 = Generator.forTask(11, round, 2);
        Generator g3 = Generator.forTask(11, round, 2);
        g1.setPosition(startPosition);
        g2.setPosition(startPosition);
        g3.setPosition(startPosition);
        try (NDArray a = background.noisyGradient(model, x, y, ce::apply, g1);
            NDArray b = inline.noisyGradient(model, x, y, ce::apply, g2);
            DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, C);
            NDArray c = inline.privatize(s.sum(), g3)) {
          assertEquals(dtype, a.dtype());
          assertArrayEquals(bits(b), bits(a), dtype + " round " + round);
          assertArrayEquals(bits(c), bits(a), dtype + " round " + round);
          assertEquals(g3.position(), g1.position(), "the generator moves as privatize moves it");
          assertEquals(g3.position(), g2.position());
        }
      }
    }
  }

  @Test
  void backgroundNoiseGivesTheSameBitsInFloat32() {
    assertSameBits(DType.FLOAT32, 0);
  }

  @Test
  void backgroundNoiseGivesTheSameBitsFromAnOddGeneratorPosition() {
    // position 5 is not pair-aligned: the reservation skips to 6 in both paths
    assertSameBits(DType.FLOAT32, 5);
  }

  @Test
  void backgroundNoiseGivesTheSameBitsInFloat64() {
    assertSameBits(DType.FLOAT64, 3);
  }

  /**
   * Runs {@code body} with every core in Ember's pool and at least two pool threads, where a
   * default {@link DpSgd} draws its noise on the pool's idle workers.
   */
  private static void withIdlePoolWorkers(Runnable body) {
    int before = EmberConfig.threads();
    try {
      EmberConfig.setThreads(Math.max(2, Runtime.getRuntime().availableProcessors()));
      body.run();
    } finally {
      EmberConfig.setThreads(before);
    }
  }

  @Test
  void idlePoolWorkersGiveTheSameBitsInFloat32AndFloat64() {
    withIdlePoolWorkers(
        () -> {
          DpSgd dp = new DpSgd(C, SIGMA, EXPECTED);
          assertEquals(DpSgd.NoiseDrawing.IDLE_POOL_WORKERS, dp.noiseDrawing());
          assertSameBits(dp, DType.FLOAT32, 0);
          assertSameBits(dp, DType.FLOAT32, 5);
          assertSameBits(dp, DType.FLOAT64, 3);
        });
  }

  @Test
  void idlePoolWorkersDrawManyChunksWithTheBitsOfOneDraw() {
    // 3 * CHUNK + 5 parameters: several chunks and a short last one
    int in = 3 * NoiseDraw.CHUNK + 2;
    withIdlePoolWorkers(
        () -> {
          Generator g1 = new Generator(8, 1);
          Generator g2 = new Generator(8, 1);
          g1.setPosition(3);
          g2.setPosition(3);
          try (NoiseDraw draw =
                  NoiseDraw.start(
                      g1, DType.FLOAT32, 0.7, DpSgd.NoiseDrawing.IDLE_POOL_WORKERS, in, 1);
              NDArray expected = NDArray.normal(g2, DType.FLOAT32, 0, 0.7, in, 1);
              NDArray noise = draw.join()) {
            assertArrayEquals(bits(expected), bits(noise));
            assertEquals(g2.position(), g1.position());
          }
        });
  }

  @Test
  void idlePoolWorkersFreeTheNoiseWhenTheClippingFails() {
    withIdlePoolWorkers(
        () -> {
          DpSgd dp = new DpSgd(C, SIGMA, EXPECTED);
          try (Sequential model = mlp(DType.FLOAT32, null);
              CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
              NDArray x = inputs(DType.FLOAT32);
              NDArray y = classes();
              NDArray fewer = y.narrow(0, 0, B - 1)) {
            dp.noisyGradient(model, x, y, ce::apply, new Generator(1)).close(); // warm caches
            long before = Allocators.cpuAllocatedBytes();
            Generator gen = new Generator(2);
            IllegalArgumentException e =
                assertThrows(
                    IllegalArgumentException.class,
                    () -> dp.noisyGradient(model, x, fewer, ce::apply, gen));
            assertTrue(e.getMessage().contains("differ in batch size"), e.getMessage());
            assertEquals(0, gen.position(), "a failed step draws no noise from the generator");
            assertEquals(before, Allocators.cpuAllocatedBytes(), "after a failed step");
            // and the pool takes the next step's noise again (the failed one left no job behind)
            try (NoiseDraw draw =
                NoiseDraw.start(gen, DType.FLOAT32, 1, DpSgd.NoiseDrawing.IDLE_POOL_WORKERS, 8)) {
              draw.join().close();
            }
          }
        });
  }

  @Test
  void aDropoutLayerDrawingDuringTheIdleDrawGetsTheSameBits() {
    withIdlePoolWorkers(
        () -> {
          Generator gen = new Generator(21);
          Generator ref = new Generator(21);
          try (Sequential model = mlp(DType.FLOAT32, gen);
              Sequential refModel = mlp(DType.FLOAT32, ref);
              CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
              NDArray x = inputs(DType.FLOAT32);
              NDArray y = classes()) {
            model.train();
            refModel.train();
            DpSgd dp = new DpSgd(C, SIGMA, EXPECTED);
            assertEquals(DpSgd.NoiseDrawing.IDLE_POOL_WORKERS, dp.noiseDrawing());
            try (NDArray a = dp.noisyGradient(model, x, y, ce::apply, gen);
                DpSgd.ClippedSum s = DpSgd.clippedSum(refModel, x, y, ce::apply, C);
                NDArray b = dp.privatize(s.sum(), ref)) {
              assertArrayEquals(bits(b), bits(a));
              assertEquals(ref.position(), gen.position());
            }
          }
        });
  }

  @Test
  void noiseMatchesAnIndependentNormalDrawOfTheSameGenerator() {
    // Empty batch: the result is the noise over qN alone, i.e. NDArray.normal(gen) / qN as the
    // existing DpSgdTest.anEmptyBatchReleasesNoiseAlone asserts, here bit for bit.
    DpSgd dp = new DpSgd(1.0, 2.0, 5, true);
    try (Sequential model = mlp(DType.FLOAT32, null);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = NDArray.zeros(DType.FLOAT32, 0, IN);
        NDArray y = NDArray.of(new long[0], 0);
        NDArray g = dp.noisyGradient(model, x, y, ce::apply, new Generator(3));
        NDArray noise =
            NDArray.normal(new Generator(3), DType.FLOAT32, 0, 2.0, (int) model.parameterCount());
        NDArray scaled = noise.div(5)) {
      assertArrayEquals(bits(scaled), bits(g));
    }
  }

  @Test
  void aDropoutLayerDrawingFromTheSameGeneratorGetsTheSameBits() {
    // The forward pass draws the dropout mask from gen while the noise is being drawn from it in
    // the background: the noise must still come after the mask, as without the background draw.
    for (boolean background : new boolean[] {true, false}) {
      Generator gen = new Generator(21);
      Generator ref = new Generator(21);
      try (Sequential model = mlp(DType.FLOAT32, gen);
          Sequential refModel = mlp(DType.FLOAT32, ref);
          CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
          NDArray x = inputs(DType.FLOAT32);
          NDArray y = classes()) {
        model.train();
        refModel.train();
        DpSgd dp = new DpSgd(C, SIGMA, EXPECTED, background);
        try (NDArray a = dp.noisyGradient(model, x, y, ce::apply, gen);
            DpSgd.ClippedSum s = DpSgd.clippedSum(refModel, x, y, ce::apply, C);
            NDArray b = dp.privatize(s.sum(), ref)) {
          assertTrue(ref.position() > model.parameterCount(), "the mask was drawn from ref too");
          assertArrayEquals(bits(b), bits(a), "background " + background);
          assertEquals(ref.position(), gen.position());
        }
      }
    }
  }

  @Test
  void everyArrayIsFreedOnSuccessAndWhenTheClippingFails() {
    DpSgd dp = new DpSgd(C, SIGMA, EXPECTED, true);
    try (Sequential model = mlp(DType.FLOAT32, null);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = inputs(DType.FLOAT32);
        NDArray y = classes()) {
      dp.noisyGradient(model, x, y, ce::apply, new Generator(1)).close(); // warm caches
      long before = Allocators.cpuAllocatedBytes();
      for (int i = 0; i < 5; i++) {
        dp.noisyGradient(model, x, y, ce::apply, new Generator(i)).close();
      }
      assertEquals(before, Allocators.cpuAllocatedBytes(), "after successful steps");
      // the clipping refuses the batch while the noise is being drawn
      Generator gen = new Generator(2);
      IllegalArgumentException e;
      try (NDArray fewer = y.narrow(0, 0, B - 1)) {
        e =
            assertThrows(
                IllegalArgumentException.class,
                () -> dp.noisyGradient(model, x, fewer, ce::apply, gen));
      }
      assertTrue(e.getMessage().contains("differ in batch size"), e.getMessage());
      assertEquals(0, gen.position(), "a failed step draws no noise from the generator");
      assertEquals(before, Allocators.cpuAllocatedBytes(), "after a failed step");
    }
  }

  @Test
  void aFailedBackgroundDrawSurfacesWithItsCauseAndWhatWasDrawn() {
    long before = Allocators.cpuAllocatedBytes();
    Generator gen = Generator.forTask(77, 4, 1);
    ArithmeticException boom = new ArithmeticException("boom");
    NoiseDraw.Fill failing =
        (philox, offset, dtype, std, shape) -> {
          throw boom;
        };
    try (NoiseDraw draw = NoiseDraw.start(gen, DType.FLOAT32, 1.5, true, failing, 10)) {
      IllegalStateException e = assertThrows(IllegalStateException.class, draw::join);
      assertSame(boom, e.getCause());
      String m = e.getMessage();
      assertTrue(m.contains("drawing the DP-SGD noise"), m);
      assertTrue(m.contains("background thread failed"), m);
      assertTrue(m.contains("boom"), m);
      assertTrue(m.contains("[10] float32") || m.contains("[10] FLOAT32"), m);
      assertTrue(m.contains("seed 77"), m);
      assertEquals(0, gen.position(), "a failed draw does not move the generator");
    }
    // closing without a join after a failure is quiet
    NoiseDraw.start(gen, DType.FLOAT32, 1.5, true, failing, 10).close();
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void closingWithoutJoinWaitsForTheDrawAndFreesIt() throws Exception {
    long before = Allocators.cpuAllocatedBytes();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<NDArray> drawn = new AtomicReference<>();
    NoiseDraw.Fill slow =
        (philox, offset, dtype, std, shape) -> {
          started.countDown();
          try {
            release.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          NDArray a = NDArray.zeros(dtype, shape);
          drawn.set(a);
          return a;
        };
    NoiseDraw draw = NoiseDraw.start(new Generator(1), DType.FLOAT32, 1, true, slow, 1000);
    assertTrue(started.await(10, TimeUnit.SECONDS));
    Thread releaser =
        new Thread(
            () -> {
              try {
                Thread.sleep(50);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              release.countDown();
            });
    releaser.start();
    draw.close(); // returns only once the running draw has finished and its array is freed
    releaser.join();
    assertTrue(drawn.get() != null);
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void oneDaemonNoiseThreadServesEverySteps() {
    DpSgd dp = new DpSgd(C, SIGMA, EXPECTED, true);
    try (Sequential model = mlp(DType.FLOAT32, null);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = inputs(DType.FLOAT32);
        NDArray y = classes()) {
      for (int i = 0; i < 10; i++) {
        dp.noisyGradient(model, x, y, ce::apply, new Generator(i)).close();
      }
    }
    long noiseThreads = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().equals("ember-dp-noise")) {
        noiseThreads++;
        assertTrue(t.isDaemon(), "the noise thread never keeps the JVM alive");
      }
    }
    assertTrue(noiseThreads <= 1, noiseThreads + " noise threads");
  }

  @Test
  void byDefaultTheNoiseIsDrawnInTheBackgroundOnlyWhenACoreIsLeftOver() {
    int before = EmberConfig.threads();
    int cpus = Runtime.getRuntime().availableProcessors();
    DpSgd dp = new DpSgd(C, SIGMA, EXPECTED);
    try {
      EmberConfig.setThreads(cpus);
      assertFalse(dp.backgroundNoise(), "every core is in Ember's pool");
      assertEquals(
          cpus > 1 ? DpSgd.NoiseDrawing.IDLE_POOL_WORKERS : DpSgd.NoiseDrawing.CALLER,
          dp.noiseDrawing(),
          "every core in the pool: the pool's idle workers draw it");
      EmberConfig.setThreads(1);
      assertEquals(cpus > 1, dp.backgroundNoise());
      assertEquals(
          cpus > 1 ? DpSgd.NoiseDrawing.NOISE_THREAD : DpSgd.NoiseDrawing.CALLER,
          dp.noiseDrawing());
      assertTrue(new DpSgd(C, SIGMA, EXPECTED, true).backgroundNoise());
      assertFalse(new DpSgd(C, SIGMA, EXPECTED, false).backgroundNoise());
      EmberConfig.setThreads(Math.max(2, cpus));
      assertEquals(
          DpSgd.NoiseDrawing.NOISE_THREAD, new DpSgd(C, SIGMA, EXPECTED, true).noiseDrawing());
      assertEquals(
          DpSgd.NoiseDrawing.CALLER,
          new DpSgd(C, SIGMA, EXPECTED, false).noiseDrawing(),
          "backgroundNoise = false keeps the draw on the calling thread");
    } finally {
      EmberConfig.setThreads(before);
    }
  }

  @Test
  void joinTwiceIsRefused() {
    try (NoiseDraw draw = NoiseDraw.start(new Generator(4), DType.FLOAT32, 1, true, 6);
        NDArray a = draw.join()) {
      assertEquals(6, a.numel());
      IllegalStateException e = assertThrows(IllegalStateException.class, draw::join);
      assertTrue(e.getMessage().contains("already taken"), e.getMessage());
    }
    assertFalse(Thread.currentThread().isInterrupted());
  }
}
