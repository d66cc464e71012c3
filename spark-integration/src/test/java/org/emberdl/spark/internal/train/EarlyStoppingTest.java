package org.emberdl.spark.internal.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.emberdl.spark.internal.io.Checkpoints;
import org.emberdl.spark.internal.local.RoundWeights;
import org.junit.jupiter.api.Test;

/** Early stopping's patience, best epoch and best weights, and its restore from a checkpoint. */
class EarlyStoppingTest {
  /** Weights tagged by epoch, counting how often they are copied. */
  private static final class Snapshots implements Supplier<RoundWeights> {
    int taken;
    float epoch;

    @Override
    public RoundWeights get() {
      taken++;
      return new RoundWeights(new float[] {epoch}, new float[0]);
    }

    Supplier<RoundWeights> at(int e) {
      epoch = e;
      return this;
    }
  }

  @Test
  void stopsAfterPatienceEpochsWithoutAStrictImprovementAndKeepsTheBestEpochsWeights() {
    EarlyStopping s = new EarlyStopping(2);
    Snapshots w = new Snapshots();
    assertFalse(s.record(1, 0.9, w.at(1)));
    assertFalse(s.record(2, 0.95, w.at(2)), "worse: 1 epoch without improvement");
    assertFalse(s.record(3, 0.8, w.at(3)), "better: the count starts again");
    assertEquals(0, s.epochsWithoutImprovement());
    assertFalse(s.record(4, 0.8, w.at(4)), "equal is no improvement");
    assertEquals(1, s.epochsWithoutImprovement());
    assertTrue(s.record(5, Double.NaN, w.at(5)), "NaN is no improvement: 2 epochs, patience 2");
    assertTrue(s.stopped());
    assertEquals(3, s.bestEpoch());
    assertEquals(0.8, s.bestLoss());
    assertEquals(3f, s.bestWeights().values()[0], "the weights after epoch 3");
    assertEquals(2, w.taken, "copied at the two improvements only (epochs 1 and 3)");
  }

  @Test
  void withoutPatienceItTracksTheBestEpochButNeverStopsNorCopiesWeights() {
    EarlyStopping s = new EarlyStopping(0);
    Snapshots w = new Snapshots();
    assertFalse(s.record(1, 0.5, w.at(1)));
    for (int e = 2; e <= 10; e++) {
      assertFalse(s.record(e, 0.6, w.at(e)));
    }
    assertEquals(1, s.bestEpoch());
    assertEquals(9, s.epochsWithoutImprovement());
    assertNull(s.bestWeights());
    assertEquals(0, w.taken);
  }

  @Test
  void restoresTheCheckpointsProgressAndBestWeights() {
    RoundWeights best = new RoundWeights(new float[] {3}, new float[0]);
    Checkpoints.Progress progress =
        new Checkpoints.Progress(5, Map.of(), 0.5, 3, 2, List.of(), List.of());

    EarlyStopping stopped = new EarlyStopping(2);
    stopped.restore(progress, best);
    assertTrue(stopped.stopped(), "a fit that had stopped (2 epochs >= patience 2) stays stopped");

    EarlyStopping going = new EarlyStopping(3);
    going.restore(progress, best);
    assertFalse(going.stopped());
    Snapshots w = new Snapshots();
    assertFalse(going.record(6, 0.4999, w.at(6)), "0.4999 < 0.5 improves on the restored best");
    assertEquals(6, going.bestEpoch());

    EarlyStopping patient = new EarlyStopping(3);
    patient.restore(progress, best);
    assertTrue(patient.record(6, 0.5, w.at(6)), "a third epoch without improvement");
    assertSame(best, patient.bestWeights(), "the restored best weights are returned");
    assertEquals(3, patient.bestEpoch());
  }
}
