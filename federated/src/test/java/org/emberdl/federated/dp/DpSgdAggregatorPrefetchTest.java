package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;

/**
 * {@link DpSgdAggregator} draws round r + 1's noise in the background after round r: the released
 * steps must be those of drawing each round's noise when its sum arrives, worked out here from
 * {@code NDArray.normal} of the round's generator.
 */
class DpSgdAggregatorPrefetchTest {
  private static final double C = 0.5;
  private static final double SIGMA = 1.2;
  private static final double QN = 10;
  private static final long SEED = 99;

  private static float[] sum(int n) {
    float[] s = new float[n];
    for (int i = 0; i < n; i++) {
      s[i] = (i % 7 - 3) * 0.25f;
    }
    return s;
  }

  /** {@code (sum + N(0, (sigma C)^2)) / qN} with the noise of ({@code SEED}, round). */
  private static float[] expected(float[] sum, long round) {
    float[] noise;
    try (NDArray a =
        NDArray.normal(
            Generator.forTask(SEED, round, 0), DType.FLOAT32, 0, SIGMA * C, sum.length)) {
      noise = a.toFloatArray();
    }
    float[] out = new float[sum.length];
    for (int i = 0; i < sum.length; i++) {
      out[i] = (float) (((double) sum[i] + noise[i]) * (1.0 / QN));
    }
    return out;
  }

  private static float[] combine(DpSgdAggregator agg, float[] sum) {
    Step step = agg.combine(new Update(sum.clone(), new float[0], 12, 0, 0));
    assertEquals(Step.Kind.GRADIENT, step.kind());
    return step.values();
  }

  @Test
  void seededNoiseIsNdarrayNormalOfTheRoundsGenerator() {
    NoiseSource source = NoiseSource.seeded(SEED);
    for (int n : new int[] {1, 2, 7, 4096, 235_146}) {
      for (long round : new long[] {0, 1, 5, 1L << 33}) {
        try (NDArray a =
            NDArray.normal(Generator.forTask(SEED, round, 0), DType.FLOAT32, 0, 0.6, n)) {
          assertArrayEquals(a.toFloatArray(), source.sample(n, 0.6, round), "n " + n);
        }
      }
    }
  }

  @Test
  void prefetchedNoiseGivesTheStepsOfDrawingItOnArrival() {
    long before = Allocators.cpuAllocatedBytes();
    DpSgdAggregator agg = new DpSgdAggregator(C, SIGMA, QN, NoiseSource.seeded(SEED), 0);
    float[] s = sum(1001);
    for (long round = 0; round < 4; round++) {
      assertArrayEquals(expected(s, round), combine(agg, s), "round " + round);
    }
    // the model's length changed: the prefetch for the old length is dropped
    float[] t = sum(37);
    assertArrayEquals(expected(t, 4), combine(agg, t), "round 4, new length");
    assertArrayEquals(expected(t, 5), combine(agg, t), "round 5");
    // a resumed run (first round 2) releases what the uninterrupted run released at round 2
    DpSgdAggregator resumed = new DpSgdAggregator(C, SIGMA, QN, NoiseSource.seeded(SEED), 2);
    assertArrayEquals(expected(s, 2), combine(resumed, s));
    assertArrayEquals(expected(s, 3), combine(resumed, s));
    assertEquals(before, Allocators.cpuAllocatedBytes(), "the noise lives on the heap only");
    for (Thread th : Thread.getAllStackTraces().keySet()) {
      if (th.getName().equals(NoiseThread.NAME)) {
        assertTrue(th.isDaemon());
      }
    }
  }

  @Test
  void withoutNoiseTheStepIsTheSumOverTheExpectedBatchSize() {
    DpSgdAggregator agg = new DpSgdAggregator(C, 0, QN, 5, 0);
    float[] s = sum(9);
    float[] want = new float[9];
    for (int i = 0; i < 9; i++) {
      want[i] = (float) (s[i] * (1.0 / QN));
    }
    assertArrayEquals(want, combine(agg, s));
  }
}
