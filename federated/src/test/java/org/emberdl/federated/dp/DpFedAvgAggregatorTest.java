package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.federated.ServerOptimizer;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.federated.UpdateKind;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;

class DpFedAvgAggregatorTest {
  @Test
  void centralNoiseHasTheClippedSumAsMeanAndZSOverQKAsStd() {
    // K = 40 clients sampled with q = 0.25: the denominator is qK = 10. Sum of clipped deltas s_i =
    // i mod 7 - 3; z = 1.2, S = 0.5, eta = 2: the released step is 2 (s + N(0, 0.36)) / 10, so
    // (step * 5 - s) must be N(0, 0.6^2). With n = 200,000 coordinates the sample mean has std
    // 0.6 / sqrt(n) = 0.0013 (tolerance 5 std) and the sample std a relative std of 1/sqrt(2n) =
    // 0.0016 (tolerance 1%).
    int n = 200_000;
    float[] sum = new float[n];
    for (int i = 0; i < n; i++) {
      sum[i] = i % 7 - 3;
    }
    DpFedAvgAggregator agg =
        DpFedAvgAggregator.central(0.5, 1.2, 10, ServerOptimizer.sgd(2.0), 17, 0);
    assertEquals(UpdateKind.CLIPPED_DELTA_SUM, agg.updateKind());
    long before = Allocators.cpuAllocatedBytes();
    Step step = agg.combine(new Update(sum.clone(), new float[0], 123, 0, 0));
    assertEquals(before, Allocators.cpuAllocatedBytes(), "the noise buffer is released");
    assertEquals(Step.Kind.DELTA, step.kind());
    double mean = 0;
    double sq = 0;
    for (int i = 0; i < n; i++) {
      double noise = step.values()[i] * 5.0 - sum[i];
      mean += noise;
      sq += noise * noise;
    }
    mean /= n;
    double std = Math.sqrt(sq / n - mean * mean);
    assertEquals(0, mean, 5 * 0.6 / Math.sqrt(n));
    assertEquals(0.6, std, 0.006);
    // the next round draws fresh noise; the same seed and round draw the same
    Step next = agg.combine(new Update(sum.clone(), new float[0], 123, 0, 0));
    assertFalse(java.util.Arrays.equals(step.values(), next.values()));
    Step again =
        DpFedAvgAggregator.central(0.5, 1.2, 10, ServerOptimizer.sgd(2.0), 17, 0)
            .combine(new Update(sum.clone(), new float[0], 123, 0, 0));
    assertArrayEquals(step.values(), again.values());
  }

  @Test
  void secureNoiseHasTheRightStdAndIsFreshEveryDraw() {
    // 200,000 values of N(0, 0.7^2): sample std within 1% (its relative std is 0.16%)
    NoiseSource secure = NoiseSource.secure();
    float[] a = secure.sample(200_000, 0.7, 0);
    double sq = 0;
    for (float v : a) {
      sq += (double) v * v;
    }
    assertEquals(0.7, Math.sqrt(sq / a.length), 0.007);
    assertFalse(java.util.Arrays.equals(a, secure.sample(200_000, 0.7, 0)));
    assertTrue(secure.isSecure());
    NoiseSource seeded = NoiseSource.seeded(5);
    assertArrayEquals(seeded.sample(100, 1, 3), NoiseSource.seeded(5).sample(100, 1, 3));
    assertFalse(seeded.isSecure());
  }

  @Test
  void distributedNoiseIsLeftToTheClients() {
    DpFedAvgAggregator agg = DpFedAvgAggregator.distributed(1.0, 1.1, 4, ServerOptimizer.sgd(1.0));
    assertFalse(agg.addsNoise());
    Step step = agg.combine(new Update(new float[] {4, -2, 1}, new float[0], 9, 0, 0));
    assertArrayEquals(new float[] {1, -0.5f, 0.25f}, step.values());
    assertTrue(DpFedAvgAggregator.central(1, 1, 1, ServerOptimizer.sgd(1), 0, 0).addsNoise());
  }

  @Test
  void theServersMomentumPostProcessesTheNoisyMean() {
    // mean delta (4 / 4) = 1 both rounds; FedAvgM with beta 0.5: v = 1, then 1.5
    DpFedAvgAggregator agg =
        DpFedAvgAggregator.distributed(1.0, 1.0, 4, ServerOptimizer.momentum(1.0, 0.5));
    assertArrayEquals(
        new float[] {1}, agg.combine(new Update(new float[] {4}, new float[0], 1, 0, 0)).values());
    assertArrayEquals(
        new float[] {1.5f},
        agg.combine(new Update(new float[] {4}, new float[0], 1, 0, 0)).values());
  }

  @Test
  void rejectsInvalidSettings() {
    assertThrows(
        IllegalArgumentException.class,
        () -> DpFedAvgAggregator.central(0, 1, 10, ServerOptimizer.sgd(1), 0, 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> DpFedAvgAggregator.central(1, -1, 10, ServerOptimizer.sgd(1), 0, 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> DpFedAvgAggregator.distributed(1, 1, 0, ServerOptimizer.sgd(1)));
    assertThrows(IllegalArgumentException.class, () -> ServerOptimizer.sgd(0));
  }
}
