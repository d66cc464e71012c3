package org.emberdl.spark.internal.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;
import org.emberdl.federated.Update;
import org.emberdl.nn.Module;
import org.emberdl.spark.EmberClassifier;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.TrainingSummary;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.DataSizes;
import org.emberdl.spark.internal.plan.TaskKind;
import org.emberdl.spark.internal.plan.TrainingPlan;
import org.emberdl.tensor.Generator;
import org.junit.jupiter.api.Test;

/**
 * The training loop over a scripted {@link RoundExecutor}: no Spark job runs, so the loop's own
 * decisions (steps applied, validation, early stopping back to the best epoch's weights) are seen
 * directly.
 */
class TrainingLoopTest {
  /**
   * One round per epoch whose 4 examples each have gradient 0.5 on every weight (the sum 2.0), and
   * validation losses scripted per epoch; records what the loop asked for.
   */
  private static final class Scripted implements RoundExecutor {
    final double[] validationLoss;
    final List<String> calls = new ArrayList<>();
    final List<float[]> evaluatedAt = new ArrayList<>();
    int epoch;

    Scripted(double... validationLoss) {
      this.validationLoss = validationLoss;
    }

    @Override
    public void beginEpoch(int epoch, Supplier<RoundWeights> weights) {
      this.epoch = epoch;
      calls.add("begin " + epoch);
    }

    @Override
    public Update run(Round round, Supplier<RoundWeights> weights) {
      calls.add("run " + round.epoch() + "/" + round.round() + " global " + round.globalRound());
      float[] sum = new float[weights.get().values().length];
      Arrays.fill(sum, 2.0f);
      return new Update(sum, new float[0], 4, 4 * (1.0 + epoch), 2);
    }

    @Override
    public void stepApplied(Supplier<RoundWeights> weights) {
      calls.add("applied");
    }

    @Override
    public void endEpoch() {
      calls.add("end");
    }

    @Override
    public Update evaluate(RoundWeights weights) {
      calls.add("evaluate");
      evaluatedAt.add(weights.values().clone());
      return new Update(new float[0], new float[0], 2, 2 * validationLoss[epoch], 1);
    }
  }

  /**
   * The loop and its deciders import no Spark or Hadoop API: Spark reaches them only through the
   * {@link RoundExecutor} implementations, {@link TrainingCheckpoints} and {@link FitProgress}, so
   * they can run wherever a fit's loop runs (on the driver today, in a task tomorrow).
   */
  @Test
  void theLoopsClassesImportNoSparkOrHadoop() throws IOException {
    List<String> offenders = new ArrayList<>();
    for (String name :
        List.of(
            "train/TrainingLoop",
            "plan/TrainingPlan",
            "train/RoundExecutor",
            "train/Round",
            "train/ServerState",
            "train/EarlyStopping",
            "train/PrivacyBudget",
            "plan/DataSizes",
            "train/TrainingConfig")) {
      String source =
          Files.readString(Path.of("src/main/java/org/emberdl/spark/internal/" + name + ".java"));
      if (source.contains("import org.apache.spark")
          || source.contains("import org.apache.hadoop")) {
        offenders.add(name);
      }
    }
    assertEquals(List.of(), offenders);
  }

  @Test
  void stopsAfterPatienceAndReturnsTheBestEpochsWeights() {
    EmberClassifier p =
        new EmberClassifier()
            .setLayers(new int[] {2, 2})
            .setOptimizer("sgd")
            .setLearningRate(0.5)
            .setBatchSize(4)
            .setMaxEpochs(6)
            .setValidationFraction(0.25)
            .setEarlyStoppingPatience(1)
            .setExecutionMode("rounds");
    NetworkDefinition network = NetworkDefinition.of(p);
    DataSizes sizes = new DataSizes(4, 2, 0, 1, 4, 1);
    Scripted rounds = new Scripted(0.5, 0.4, 0.45, 0.1);
    List<String> described = new ArrayList<>();
    try (Module model = network.build(new Generator(3))) {
      float[] w0 = model.flatParameters().values().toFloatArray();
      TrainingPlan plan =
          TrainingPlan.resolve(p, TaskKind.CLASSIFICATION, network, model, sizes, "loop-test");
      assertEquals(1, plan.roundsPerEpoch());
      TrainingSummary summary;
      try (ServerState state =
              new ServerState(
                  model, Optimizers.create(plan.config(), model), null, plan.config().schedule());
          FitProgress progress =
              FitProgress.start(SparkTestSession.get().sparkContext(), p, network, 6, 1, null)) {
        summary =
            new TrainingLoop(
                    plan,
                    rounds,
                    state,
                    TrainingCheckpoints.of(plan, state.checkpointed(), new Configuration()),
                    progress,
                    described::add)
                .run();
      }

      // SGD at lr 0.5 on the mean gradient 2.0 / 4 = 0.5: each epoch moves every weight by -0.25
      float[] after1 = new float[w0.length];
      float[] after2 = new float[w0.length];
      for (int i = 0; i < w0.length; i++) {
        after1[i] = w0[i] - 0.25f;
        after2[i] = after1[i] - 0.25f;
      }
      assertArrayEquals(after1, rounds.evaluatedAt.get(0), "validated after the epoch's step");
      assertArrayEquals(after2, rounds.evaluatedAt.get(1));
      // epoch 3's 0.45 is no better than epoch 2's 0.4: patience 1 stops there, at epoch 2's
      // weights
      assertArrayEquals(after2, model.flatParameters().values().toFloatArray());
      assertTrue(summary.stoppedEarly());
      assertEquals(2, summary.bestEpoch());
      assertEquals(3, summary.epochs().size(), "epoch 4 never runs");
      assertEquals(
          List.of(1.0, 2.0, 3.0), summary.epochs().stream().map(EpochMetrics::loss).toList());
      assertEquals(
          List.of(0.5, 0.4, 0.45),
          summary.epochs().stream().map(EpochMetrics::validationLoss).toList());
      assertEquals(0.5, summary.epochs().get(0).accuracy(), "2 of 4 correct");
      assertEquals(
          List.of(
              "begin 0",
              "run 0/0 global 0",
              "applied",
              "end",
              "evaluate",
              "begin 1",
              "run 1/0 global 1",
              "applied",
              "end",
              "evaluate",
              "begin 2",
              "run 2/0 global 2",
              "applied",
              "end",
              "evaluate"),
          rounds.calls);
      assertEquals("Ember epoch 1/6, round 1/1, loss NaN", described.get(0));
      assertEquals("Ember epoch 2/6, round 1/1, loss 1.0000", described.get(2));
      assertEquals("Ember epoch 3/6, validation", described.get(5));
      assertEquals(null, described.get(described.size() - 1), "cleared at the end");
    }
  }
}
