package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** aggregation = dp-sgd: private training across partitions with its budget accounted. */
class DpSgdTrainingTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  /** 600 rows, batch 60: q = 0.1, 10 steps per epoch. */
  private static EmberClassifier dp() {
    return EmberClassifierTest.mlp()
        .setAggregation("dp-sgd")
        .setBatchSize(60)
        .setL2NormClip(1.0)
        .setNoiseMultiplier(0.8)
        .setLearningRate(0.05)
        .setMaxEpochs(5);
  }

  @Test
  void learnsAndReportsTheEpsilonOfItsSteps() {
    Dataset<Row> data = TestData.blobs(spark, 600, 8, 3, 21, 2);
    EmberClassificationModel model = dp().fit(data);
    double accuracy =
        new MulticlassClassificationEvaluator()
            .setMetricName("accuracy")
            .evaluate(model.transform(data));
    assertTrue(accuracy > 0.9, "accuracy " + accuracy);
    List<EpochMetrics> epochs = model.trainingSummary().epochs();
    assertEquals(5, epochs.size());
    assertEquals(10, model.trainingSummary().roundsPerEpoch());
    for (int e = 1; e <= 5; e++) {
      double expected = new RdpAccountant().withSteps(0.1, 0.8, 10L * e).epsilon(1e-5);
      assertEquals(expected, epochs.get(e - 1).epsilon(), 1e-12);
    }
    assertTrue(epochs.get(4).epsilon() > epochs.get(0).epsilon());
    // The same seed draws the same samples and the same noise.
    assertArrayEquals(model.weights(), dp().fit(data).weights());
  }

  @Test
  void secureNoiseIsFreshEveryFit() {
    Dataset<Row> data = TestData.blobs(spark, 600, 8, 3, 25, 2);
    EmberClassificationModel a = dp().setSecureNoise(true).setMaxEpochs(1).fit(data);
    EmberClassificationModel b = dp().setSecureNoise(true).setMaxEpochs(1).fit(data);
    assertFalse(java.util.Arrays.equals(a.weights(), b.weights()), "noise not from the seed");
    assertEquals(a.trainingSummary().last().epsilon(), b.trainingSummary().last().epsilon());
    assertTrue(a.getSecureNoise());
  }

  @Test
  void secureNoiseDrawsThePoissonSampleFromTheSecureSourceToo() {
    // No noise (sigma 0): what remains random is the sample alone. Seeded sampling gives the same
    // weights every fit; under secureNoise the sample comes from a per-fit secret key, so two fits
    // differ (the chance that 10 steps of Poisson samples of 600 rows coincide is nil).
    Dataset<Row> data = TestData.blobs(spark, 600, 8, 3, 26, 2);
    EmberClassifier noNoise = dp().setNoiseMultiplier(0).setMaxEpochs(1);
    assertArrayEquals(noNoise.fit(data).weights(), noNoise.fit(data).weights());
    EmberClassifier secure = noNoise.copy(noNoise.extractParamMap()).setSecureNoise(true);
    assertFalse(
        java.util.Arrays.equals(secure.fit(data).weights(), secure.fit(data).weights()),
        "the sample is not derived from the seed");
  }

  @Test
  void calibratesTheNoiseToATargetEpsilon() {
    Dataset<Row> data = TestData.blobs(spark, 600, 8, 3, 22, 2);
    EmberClassificationModel model =
        EmberClassifierTest.mlp()
            .setAggregation("dp-sgd")
            .setBatchSize(60)
            .setTargetEpsilon(3.0)
            .setMaxEpochs(3)
            .setLearningRate(0.05)
            .fit(data);
    double spent = model.trainingSummary().last().epsilon();
    assertTrue(spent <= 3.0 + 1e-9 && spent > 2.95, "epsilon " + spent);
  }

  @Test
  void stopsBeforeTheBudgetIsExceededAndRefusesWhenNothingFits() {
    Dataset<Row> data = TestData.blobs(spark, 600, 8, 3, 23, 2);
    double twoEpochs = new RdpAccountant().withSteps(0.1, 0.8, 20).epsilon(1e-5);
    double threeEpochs = new RdpAccountant().withSteps(0.1, 0.8, 30).epsilon(1e-5);
    EmberClassificationModel model = dp().setTargetEpsilon((twoEpochs + threeEpochs) / 2).fit(data);
    assertEquals(2, model.trainingSummary().epochs().size());
    assertTrue(model.trainingSummary().stoppedEarly());

    double oneEpoch = new RdpAccountant().withSteps(0.1, 0.8, 10).epsilon(1e-5);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> dp().setTargetEpsilon(oneEpoch / 2).fit(data));
    assertTrue(e.getMessage().contains("refuses to start"), e.getMessage());
  }

  @Test
  void batchNormIsRefused() {
    Dataset<Row> data = TestData.blobs(spark, 60, 8, 3, 24, 1);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                dp().setNetwork("linear(8), batchnorm, relu, linear(3)")
                    .setInputShape(new int[] {8})
                    .fit(data));
    assertTrue(e.getMessage().contains("not allowed under DP-SGD"), e.getMessage());
  }
}
