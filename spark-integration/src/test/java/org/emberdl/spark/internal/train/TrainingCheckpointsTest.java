package org.emberdl.spark.internal.train;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** When the training loop writes a checkpoint. */
class TrainingCheckpointsTest {
  @Test
  void everyIntervalEpochsAfterTheLastEpochAndWhenEarlyStoppingEndsTheFit() {
    assertTrue(TrainingCheckpoints.due(4, 2, 9, false), "4 is a multiple of the interval 2");
    assertFalse(TrainingCheckpoints.due(3, 2, 9, false));
    assertTrue(TrainingCheckpoints.due(9, 2, 9, false), "the last epoch, off the interval");
    assertTrue(TrainingCheckpoints.due(3, 2, 9, true), "early stopping after epoch 3");
    assertTrue(TrainingCheckpoints.due(1, 1, 9, false), "interval 1: every epoch");
  }
}
