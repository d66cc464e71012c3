package org.emberdl.federated;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AggregatorTest {
  @Test
  void updatesAddElementwiseAndCountPartitions() {
    Update total = Update.zero(3, 1);
    total.add(new Update(new float[] {1, 2, 3}, new float[] {10}, 2, 1.5, 1));
    total.add(new Update(new float[] {0.5f, -2, 1}, new float[] {6}, 3, 2.5, 3));
    assertArrayEquals(new float[] {1.5f, 0, 4}, total.values());
    assertArrayEquals(new float[] {16}, total.buffers());
    assertEquals(5, total.examples());
    assertEquals(4.0, total.lossSum());
    assertEquals(4, total.correct());
    assertEquals(2, total.partitions());
  }

  @Test
  void meanGradientDividesSumsByTheExampleCount() {
    // Two partitions: gradient sums (2, 4) over 2 examples and (1, -1) over 2 examples; the mean
    // gradient over the 4 examples is (3/4, 3/4). Buffers weighted by count: (2*1 + 2*3) / 4 = 2.
    Update total = Update.zero(2, 1);
    total.add(new Update(new float[] {2, 4}, new float[] {2 * 1f}, 2, 0, 0));
    total.add(new Update(new float[] {1, -1}, new float[] {2 * 3f}, 2, 0, 0));
    Step step = new MeanGradientAggregator().combine(total);
    assertEquals(Step.Kind.GRADIENT, step.kind());
    assertArrayEquals(new float[] {0.75f, 0.75f}, step.values());
    assertArrayEquals(new float[] {2f}, step.buffers());
    assertEquals(UpdateKind.GRADIENT_SUM, new MeanGradientAggregator().updateKind());
  }

  @Test
  void modelAveragingWeightsDeltasByExamples() {
    // Deltas (1, 0) from 1 example and (0, 1) from 3 examples: weighted mean (1/4, 3/4).
    Update total = Update.zero(2, 0);
    total.add(new Update(new float[] {1, 0}, new float[0], 1, 0, 0));
    total.add(new Update(new float[] {0, 3}, new float[0], 3, 0, 0));
    Step step = new ModelAveragingAggregator().combine(total);
    assertEquals(Step.Kind.DELTA, step.kind());
    assertArrayEquals(new float[] {0.25f, 0.75f}, step.values());
    assertNull(step.buffers());
    assertEquals(UpdateKind.WEIGHTED_DELTA, new ModelAveragingAggregator().updateKind());
  }

  @Test
  void mismatchedSizesAndEmptyRoundsFailClearly() {
    Update a = Update.zero(3, 0);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> a.add(new Update(new float[2], new float[0], 1, 0, 0)));
    assertTrue(e.getMessage().contains("different sizes"), e.getMessage());
    IllegalStateException empty =
        assertThrows(IllegalStateException.class, () -> new MeanGradientAggregator().combine(a));
    assertTrue(empty.getMessage().contains("no examples"), empty.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> new Update(new float[1], new float[0], -1, 0, 0));
  }
}
