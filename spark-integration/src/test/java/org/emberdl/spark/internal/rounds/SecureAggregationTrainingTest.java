package org.emberdl.spark.internal.rounds;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.spark.ClientLevelTrainingTest;
import org.emberdl.spark.EmberClassificationModel;
import org.emberdl.spark.EmberClassifier;
import org.emberdl.spark.EmberClassifierTest;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.LogCapture;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.TestData;
import org.emberdl.spark.internal.io.StateDicts;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.train.Federation;
import org.emberdl.spark.internal.train.TrainingLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * secureAggregation = true: the driver sums the clients' updates through the masking protocol. The
 * unmasked sum must be the plain sum up to the fixed-point rounding (each coordinate within n 2^-(f
 * + 1) with f >= 40 here, far below float precision; 1e-5 is float noise of the rescaling), and
 * dropouts must leave the sum of the survivors.
 */
class SecureAggregationTrainingTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void cleanUp() {
    SecureClientTasks.lostBeforeMasking = null;
    ExecutorEngine.get().releaseAll();
  }

  private static void assertClose(float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-5, "weight " + i);
    }
  }

  private static float[] weights(EmberClassifier stage, Dataset<Row> data) {
    return TestData.floats(stage.fit(data).weights());
  }

  @Test
  void fedAvgUnderSecureAggregationEqualsThePlainSumAndForgetsItsKeys() {
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 50);
    EmberClassifier stage = ClientLevelTrainingTest.federated().setMaxEpochs(2);
    float[] plain = weights(stage, data);
    float[] secure = weights(stage.copy(stage.extractParamMap()).setSecureAggregation(true), data);
    assertClose(plain, secure);
    assertEquals(0, SecureClientTasks.held(), "the fit's client state is released");
    // during a fit, only the current round's clients are held: 6 clients, whatever the round
    int[] most = {0};
    SecureClientTasks.lostBeforeMasking =
        c -> {
          most[0] = Math.max(most[0], SecureClientTasks.held());
          return false;
        };
    weights(stage.copy(stage.extractParamMap()).setSecureAggregation(true).setMaxEpochs(4), data);
    assertEquals(6, most[0], "client state of finished rounds is forgotten");
  }

  @Test
  void theRoundsMetricsArriveOnlyAsSecureSumsAndEqualThePlainOnes() {
    // Clients send nothing but masked vectors (SecureClientTasks.mask returns MaskedInputs); the
    // example count, loss sum and correct count ride in them, so the driver learns only the
    // round's sums. Those sums must be what plain training reports: accuracy exactly (integer
    // counts), loss to float precision of the fixed-point encoding.
    java.lang.reflect.Method mask = null;
    for (java.lang.reflect.Method m : SecureClientTasks.class.getDeclaredMethods()) {
      mask = m.getName().equals("mask") ? m : mask;
    }
    assertEquals(
        "java.util.List<org.emberdl.federated.secagg.Messages$MaskedInput>",
        mask.getGenericReturnType().getTypeName(),
        "what a client's masking task returns to the driver");
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 58);
    EmberClassifier fedavg = ClientLevelTrainingTest.federated().setMaxEpochs(2);
    List<EpochMetrics> plain = fedavg.fit(data).trainingSummary().epochs();
    List<EpochMetrics> secure =
        fedavg
            .copy(fedavg.extractParamMap())
            .setSecureAggregation(true)
            .fit(data)
            .trainingSummary()
            .epochs();
    for (int e = 0; e < 2; e++) {
      assertEquals(plain.get(e).accuracy(), secure.get(e).accuracy(), "epoch " + (e + 1));
      assertEquals(plain.get(e).loss(), secure.get(e).loss(), 1e-6 * plain.get(e).loss());
    }
    // DP-FedAvg with noise: the first round starts from the same weights and samples the same
    // clients in both, so its metrics agree; the clients' noise covers the update, not the metrics
    EmberClassifier dp =
        ClientLevelTrainingTest.federated()
            .setAggregation("dp-fedavg")
            .setClientFraction(0.75)
            .setL2NormClip(0.05)
            .setNoiseMultiplier(0.5)
            .setMaxEpochs(1);
    EpochMetrics central = dp.fit(data).trainingSummary().last();
    EpochMetrics distributed =
        dp.copy(dp.extractParamMap()).setSecureAggregation(true).fit(data).trainingSummary().last();
    assertEquals(central.accuracy(), distributed.accuracy());
    assertEquals(central.loss(), distributed.loss(), 1e-6 * central.loss());
  }

  @Test
  void settingsThatSampleFewerThanTwoClientsPerRoundAreRefused() {
    // 4 clients (2 classes x 2): fedavg samples max(1, round(0.3 * 4)) = 1 client every round
    Dataset<Row> four = TestData.clientBlobs(spark, 80, 8, 2, 2, 51);
    IllegalArgumentException fedavg =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                ClientLevelTrainingTest.federated()
                    .setClientFraction(0.3)
                    .setSecureAggregation(true)
                    .fit(four));
    assertEquals(
        "secureAggregation needs at least 2 clients per round (one client's update cannot be"
            + " masked), but aggregation=fedavg with clientFraction=0.3 and 4 clients samples 1"
            + " client per round: raise clientFraction to at least 0.5000 or use more clients",
        fedavg.getMessage());
    // 6 clients, Poisson rate 0.3: 1.8 clients per round in expectation
    Dataset<Row> six = TestData.clientBlobs(spark, 120, 8, 3, 2, 51);
    IllegalArgumentException dp =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                ClientLevelTrainingTest.federated()
                    .setAggregation("dp-fedavg")
                    .setClientFraction(0.3)
                    .setSecureAggregation(true)
                    .setAllowUnmaskedSmallRounds(true) // no opt-out of this refusal
                    .fit(six));
    assertEquals(
        "secureAggregation needs at least 2 clients per round (one client's update cannot be"
            + " masked), but aggregation=dp-fedavg with clientFraction=0.3 and 6 clients samples"
            + " 1.800 clients in expectation per round: raise clientFraction to at least 0.3333 or"
            + " use more clients",
        dp.getMessage());
  }

  /** A seed whose first DP-FedAvg round (6 clients, q 0.4) samples exactly one client. */
  private static long seedWithALoneClientInRoundOne() {
    for (long seed = 1; ; seed++) {
      int m = 0;
      for (boolean b : Federation.poissonClients(seed, 0, 6, 0.4)) {
        m += b ? 1 : 0;
      }
      if (m == 1) {
        return seed;
      }
    }
  }

  @Test
  void aRoundOfOneClientIsSkippedUnlessAllowedThenSentWithAWarning() {
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 57);
    long seed = seedWithALoneClientInRoundOne();
    // q 0.4 of 6 clients: 2.4 expected, accepted; round 1 samples one client
    EmberClassifier stage =
        ClientLevelTrainingTest.federated()
            .setAggregation("dp-fedavg")
            .setClientFraction(0.4)
            .setL2NormClip(0.05)
            .setNoiseMultiplier(0)
            .setSeed(seed)
            .setMaxEpochs(1);
    float[] central = weights(stage, data); // no secure aggregation: the lone client's delta
    float[] initial;
    try (org.emberdl.nn.Module m =
        NetworkDefinition.of(stage).build(new org.emberdl.tensor.Generator(seed))) {
      initial = TestData.floats(StateDicts.toBytes(m.stateDict()));
    }
    assertFalse(java.util.Arrays.equals(initial, central), "the lone client moves the weights");

    EmberClassifier secure = stage.copy(stage.extractParamMap()).setSecureAggregation(true);
    try (LogCapture round = new LogCapture(SecureRound.class);
        LogCapture fit = new LogCapture(TrainingLoop.class)) {
      // with noise: a skipped round adds none, yet is charged to the accountant
      EmberClassificationModel skipped =
          secure.copy(secure.extractParamMap()).setNoiseMultiplier(0.5).fit(data);
      assertArrayEquals(
          initial, TestData.floats(skipped.weights()), "a skipped round moves nothing");
      assertEquals(
          List.of(
              "WARN secure aggregation: round 1 sampled a single client, whose update cannot be"
                  + " masked; skipping the round (no client trains, the weights stay; set"
                  + " allowUnmaskedSmallRounds=true to send it unmasked instead)"),
          round.containing("round 1"));
      assertEquals(
          List.of(
              "WARN secure aggregation: 1 of 1 rounds skipped because they sampled a single"
                  + " client"),
          fit.containing("skipped"));
      // announced at fit: P(one client) = 6 * 0.4 * 0.6^5 = 0.186624 per round
      assertEquals(
          List.of(
              "WARN secure aggregation: a dp-fedavg round samples exactly one of 6 clients with"
                  + " probability 0.187 (about 0.19 of 1 rounds); such a round is skipped and"
                  + " still charged to the accountant, whose sampled Gaussian analysis assumes"
                  + " every sampled client is summed (raise clientFraction to make such rounds"
                  + " rare)"),
          round.containing("probability"));
      // the skipped round is still charged to the accountant: its sample was drawn
      assertEquals(
          new RdpAccountant().withSteps(0.4, 0.5, 1).epsilon(1e-5),
          skipped.trainingSummary().last().epsilon());
    }
    try (LogCapture round = new LogCapture(SecureRound.class)) {
      float[] unmasked =
          weights(secure.copy(secure.extractParamMap()).setAllowUnmaskedSmallRounds(true), data);
      assertClose(central, unmasked);
      assertEquals(
          List.of(
              "WARN secure aggregation: round 1 sampled a single client; its update goes to the"
                  + " driver UNMASKED, with the whole DP noise added by the client"
                  + " (allowUnmaskedSmallRounds=true)"),
          round.containing("round 1"));
    }
  }

  @Test
  void dpFedAvgWithoutNoiseMatchesTheCentralAggregate() {
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 52);
    EmberClassifier stage =
        ClientLevelTrainingTest.federated()
            .setAggregation("dp-fedavg")
            .setL2NormClip(0.05)
            .setNoiseMultiplier(0)
            .setMaxEpochs(2);
    assertClose(weights(stage, data), weights(stage.setSecureAggregation(true), data));
  }

  @Test
  void dpFedAvgWithDistributedNoiseLearnsAccountsAndPersists(@TempDir Path dir) throws IOException {
    Dataset<Row> data = TestData.clientBlobs(spark, 1200, 8, 3, 8, 53);
    EmberClassificationModel model =
        ClientLevelTrainingTest.federated()
            .setAggregation("dp-fedavg")
            .setSecureAggregation(true)
            .setClientFraction(0.75)
            .setL2NormClip(0.5)
            .setNoiseMultiplier(0.3)
            .setMaxEpochs(6)
            .fit(data);
    double accuracy =
        new MulticlassClassificationEvaluator()
            .setMetricName("accuracy")
            .evaluate(model.transform(data));
    assertTrue(accuracy > 0.9, "accuracy " + accuracy);
    List<EpochMetrics> epochs = model.trainingSummary().epochs();
    assertEquals(
        new RdpAccountant().withSteps(0.75, 0.3, 6).epsilon(1e-5), epochs.get(5).epsilon(), 1e-9);
    String path = dir.resolve("model").toString();
    model.write().save(path);
    EmberClassificationModel loaded = EmberClassificationModel.load(path);
    assertEquals("dp-fedavg", loaded.getAggregation());
    assertTrue(loaded.getSecureAggregation());
    assertEquals("client", loaded.getClientIdCol());
    assertEquals(0.3, loaded.getNoiseMultiplier());
    assertEquals(0.5, loaded.getL2NormClip());
    assertEquals(0.75, loaded.getClientFraction());
    assertEquals(epochs.get(5).epsilon(), loaded.trainingSummary().last().epsilon(), 1e-12);
  }

  @Test
  void aDroppedClientLeavesTheSumOfTheSurvivors() {
    // Client 5 ("c2-1") loses its state after sharing its keys, in every round: the sum is
    // recovered from the others' shares and equals FedAvg over the data without that client
    // (clients keep their numbers, so their shuffles are the same).
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 54);
    EmberClassifier stage = ClientLevelTrainingTest.federated().setMaxEpochs(2);
    float[] withoutClient5 = weights(stage, data.where(functions.col("client").notEqual("c2-1")));
    SecureClientTasks.lostBeforeMasking = c -> c == 5;
    float[] secure = weights(stage.copy(stage.extractParamMap()).setSecureAggregation(true), data);
    assertClose(withoutClient5, secure);
  }

  @Test
  void tooManyDropoutsFailTheFitLoudly() {
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 55);
    SecureClientTasks.lostBeforeMasking = c -> c >= 2; // 2 of 6 survive, the threshold is 4
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> ClientLevelTrainingTest.federated().setSecureAggregation(true).fit(data));
    assertTrue(e.getMessage().contains("secure aggregation failed in round 1"), e.getMessage());
    assertTrue(e.getMessage().contains("too few masked inputs"), e.getMessage());
  }

  @Test
  void onlyFederatedAggregationsTakeSecureAggregation() {
    Dataset<Row> data = TestData.blobs(spark, 60, 8, 3, 56, 2);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> EmberClassifierTest.mlp().setSecureAggregation(true).fit(data));
    assertTrue(
        e.getMessage()
            .contains("secureAggregation=true (used only by fedavg, fedprox and dp-fedavg)"),
        e.getMessage());
  }
}
