package org.emberdl.federated;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class FederatedAveragingTest {
  /** Two clients: delta (1, 2) from 1 example and (3, -2) from 3: weighted mean (2.5, -1). */
  private static Update round() {
    Update total = Update.zero(2, 0);
    total.add(new Update(new float[] {1 * 1, 2 * 1}, new float[0], 1, 0, 0));
    total.add(new Update(new float[] {3 * 3, -2 * 3}, new float[0], 3, 0, 0));
    return total;
  }

  @Test
  void fedAvgAppliesTheExampleWeightedMeanDelta() {
    Step step = FederatedAveraging.fedAvg(1.0).combine(round());
    assertEquals(Step.Kind.DELTA, step.kind());
    assertArrayEquals(new float[] {2.5f, -1f}, step.values());
    assertArrayEquals(
        new float[] {1.25f, -0.5f}, FederatedAveraging.fedAvg(0.5).combine(round()).values());
  }

  @Test
  void fedAvgMAccumulatesServerMomentum() {
    FederatedAveraging agg = FederatedAveraging.fedAvgM(1.0, 0.9);
    assertArrayEquals(new float[] {2.5f, -1f}, agg.combine(round()).values());
    // v = 0.9 * (2.5, -1) + (2.5, -1) = (4.75, -1.9)
    float[] second = agg.combine(round()).values();
    assertEquals(4.75f, second[0], 1e-6);
    assertEquals(-1.9f, second[1], 1e-6);
  }

  @Test
  void aRoundWithoutExamplesLeavesWeightsAndMomentumAlone() {
    FederatedAveraging agg = FederatedAveraging.fedAvgM(1.0, 0.9);
    assertArrayEquals(new float[] {2.5f, -1f}, agg.combine(round()).values());
    Step empty = agg.combine(Update.zero(2, 0));
    assertArrayEquals(new float[] {0, 0}, empty.values());
    assertNull(empty.buffers());
    // the momentum was not decayed by the empty round: 0.9 * v + d, as if it had not happened
    assertArrayEquals(
        new float[] {0.9f * 2.5f + 2.5f, 0.9f * -1f - 1f}, agg.combine(round()).values(), 1e-6f);
  }

  @Test
  void fedAdamFollowsReddiEtAlAlgorithm2() {
    FederatedAveraging agg = FederatedAveraging.fedAdam(0.1, 0.9, 0.99, 1e-3);
    // m = 0.1 d, v = 0.01 d^2: step = 0.1 * 0.1 d / (0.1 |d| + 1e-3)
    float[] s = agg.combine(round()).values();
    assertEquals(0.1 * 0.25 / (0.25 + 1e-3), s[0], 1e-6);
    assertEquals(0.1 * -0.1 / (0.1 + 1e-3), s[1], 1e-6);
    // second round: m = 0.19 d, v = 0.0199 d^2
    float[] t = agg.combine(round()).values();
    assertEquals(0.1 * 0.19 * 2.5 / (Math.sqrt(0.0199) * 2.5 + 1e-3), t[0], 1e-6);
  }

  @Test
  void invalidSettingsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> FederatedAveraging.fedAvg(0));
    assertThrows(IllegalArgumentException.class, () -> FederatedAveraging.fedAvgM(1, 1.0));
    assertThrows(IllegalArgumentException.class, () -> FederatedAveraging.fedAdam(1, 0.9, 0.99, 0));
    FederatedAveraging agg = FederatedAveraging.fedAvgM(1, 0.5);
    agg.combine(round());
    assertThrows(
        IllegalArgumentException.class,
        () -> agg.combine(Update.zero(3, 0).add(new Update(new float[3], new float[0], 1, 0, 0))));
  }
}
