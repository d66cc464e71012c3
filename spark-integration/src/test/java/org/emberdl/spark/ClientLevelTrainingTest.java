package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.spark.internal.data.ClientIndex;
import org.emberdl.spark.internal.io.StateDicts;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Clients named by a column (clientIdCol), and client-level DP (aggregation = dp-fedavg). */
public class ClientLevelTrainingTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  private static double accuracy(EmberClassificationModel m, Dataset<Row> data) {
    return new MulticlassClassificationEvaluator()
        .setMetricName("accuracy")
        .evaluate(m.transform(data));
  }

  public static EmberClassifier federated() {
    return EmberClassifierTest.mlp()
        .setNumPartitions(0)
        .setClientIdCol("client")
        .setAggregation("fedavg")
        .setLocalEpochs(1)
        .setBatchSize(10)
        .setLearningRate(0.02)
        .setMaxEpochs(4);
  }

  @Test
  void clientIndexKeepsEachClientOnOnePartitionAndNumbersThemInOrder() {
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 40);
    ClientIndex.Indexed indexed = ClientIndex.attach(data, "features", "label", "client", 4, false);
    assertEquals(6, indexed.clients());
    Dataset<Row> out = indexed.data();
    assertEquals(600, out.count());
    assertEquals(4, out.rdd().getNumPartitions());
    List<Integer> perPartition =
        out.javaRDD()
            .mapPartitions(
                it -> {
                  Set<Integer> seen = new HashSet<>();
                  it.forEachRemaining(r -> seen.add(r.getInt(2)));
                  return seen.iterator();
                })
            .collect();
    assertEquals(6, perPartition.size(), "no client spans two partitions: " + perPartition);
    assertEquals(6, new HashSet<>(perPartition).size());
    // Ascending order of the id: "c0-0" -> 0, "c0-1" -> 1, "c1-0" -> 2, ...
    List<Row> check =
        out.join(data, "features")
            .select("client", ClientIndex.COLUMN)
            .distinct()
            .orderBy(ClientIndex.COLUMN)
            .collectAsList();
    assertEquals("c0-0", check.get(0).getString(0));
    assertEquals("c1-0", check.get(2).getString(0));
    assertEquals("c2-1", check.get(5).getString(0));
  }

  @Test
  void fedAvgLearnsWhenEveryClientHoldsOneClass() {
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 41);
    EmberClassificationModel model = federated().setMaxEpochs(6).fit(data);
    assertTrue(accuracy(model, data) > 0.95, "accuracy " + accuracy(model, data));
    assertEquals(600, model.trainingSummary().trainRows());
  }

  @Test
  void badClientColumnsAreRejected() {
    Dataset<Row> data = TestData.clientBlobs(spark, 60, 8, 3, 2, 42);
    IllegalArgumentException type =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                federated()
                    .setClientIdCol("c")
                    .fit(data.withColumn("c", functions.col("label").cast("double"))));
    assertTrue(
        type.getMessage().contains("must be an integer or string column"), type.getMessage());
    IllegalArgumentException nulls =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                federated()
                    .fit(
                        data.withColumn(
                            "client",
                            functions
                                .when(functions.col("label").equalTo(1), functions.lit(null))
                                .otherwise(functions.col("client")))));
    assertTrue(nulls.getMessage().contains("has null values"), nulls.getMessage());
    IllegalArgumentException notFederated =
        assertThrows(
            IllegalArgumentException.class, () -> federated().setAggregation("sync").fit(data));
    assertTrue(
        notFederated
            .getMessage()
            .contains("clientIdCol=client (used only by fedavg, fedprox and dp-fedavg)"),
        notFederated.getMessage());
  }

  @Test
  void secureNoiseSamplesTheClientsFromTheSecureSource() {
    // No noise: the clients sampled are the only randomness. Seeded, two fits agree; under
    // secureNoise each fit draws its own secret sample (equal samples in all 4 rounds of 6
    // clients at q 0.5: probability (1/64)^4).
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 44);
    EmberClassifier seeded =
        federated()
            .setAggregation("dp-fedavg")
            .setClientFraction(0.5)
            .setL2NormClip(1e6)
            .setNoiseMultiplier(0);
    assertArrayEquals(seeded.fit(data).weights(), seeded.fit(data).weights());
    EmberClassifier secure = seeded.copy(seeded.extractParamMap()).setSecureNoise(true);
    assertFalse(
        java.util.Arrays.equals(secure.fit(data).weights(), secure.fit(data).weights()),
        "the clients sampled are not derived from the seed");
  }

  @Test
  void dpFedAvgWithoutNoiseOrClippingIsUnweightedFedAvg() {
    // Equal-sized clients, all sampled (q = 1), nothing clipped (S huge) and no noise: the
    // fixed-denominator average of deltas is FedAvg's example-weighted average.
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 43);
    float[] fedAvg = TestData.floats(federated().setMaxEpochs(2).fit(data).weights());
    float[] dp =
        TestData.floats(
            federated()
                .setMaxEpochs(2)
                .setAggregation("dp-fedavg")
                .setL2NormClip(1e6)
                .setNoiseMultiplier(0)
                .fit(data)
                .weights());
    for (int i = 0; i < fedAvg.length; i++) {
      assertEquals(fedAvg[i], dp[i], 1e-5, "weight " + i);
    }
  }

  @Test
  void dpFedAvgClipsEachClientsDelta() {
    // One round, all 6 clients, no noise, S = 1e-3: the step is the mean of 6 deltas of norm <= S.
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 44);
    float[] start;
    try (org.emberdl.nn.Module initial =
        NetworkDefinition.of(federated()).build(new org.emberdl.tensor.Generator(7L))) {
      start = TestData.floats(StateDicts.toBytes(initial.stateDict()));
    }
    float[] after =
        TestData.floats(
            federated()
                .setMaxEpochs(1)
                .setAggregation("dp-fedavg")
                .setL2NormClip(1e-3)
                .setNoiseMultiplier(0)
                .fit(data)
                .weights());
    double sq = 0;
    for (int i = 0; i < start.length; i++) {
      sq += Math.pow(after[i] - start[i], 2);
    }
    double step = Math.sqrt(sq);
    // Each delta is clipped to norm S before the mean, so the step is S times the norm of the mean
    // of 6 unit vectors that point different ways (0.43 S here). Clipping the mean instead
    // would give exactly S (the unclipped mean is far above S).
    assertTrue(step > 1e-4 && step < 1e-3 * 0.9, "step norm " + step);
  }

  @Test
  void dpFedAvgLearnsAndReportsClientLevelEpsilon() {
    Dataset<Row> data = TestData.clientBlobs(spark, 1200, 8, 3, 8, 45);
    EmberClassificationModel model =
        federated()
            .setAggregation("dp-fedavg")
            .setClientFraction(0.75)
            .setL2NormClip(0.5)
            .setNoiseMultiplier(0.3)
            .setMaxEpochs(6)
            .fit(data);
    assertTrue(accuracy(model, data) > 0.9, "accuracy " + accuracy(model, data));
    List<EpochMetrics> epochs = model.trainingSummary().epochs();
    assertEquals(6, epochs.size());
    for (int e = 1; e <= 6; e++) {
      double expected = new RdpAccountant().withSteps(0.75, 0.3, e).epsilon(1e-5);
      assertEquals(expected, epochs.get(e - 1).epsilon(), 1e-12);
    }
  }

  @Test
  void dpFedAvgCalibratesToATargetEpsilonAndRefusesBatchNorm() {
    Dataset<Row> data = TestData.clientBlobs(spark, 600, 8, 3, 2, 46);
    EmberClassificationModel model =
        federated()
            .setAggregation("dp-fedavg")
            .setClientFraction(0.5)
            .setTargetEpsilon(8.0)
            .setMaxEpochs(3)
            .fit(data);
    double spent = model.trainingSummary().last().epsilon();
    assertTrue(spent <= 8.0 + 1e-9 && spent > 7.9, "epsilon " + spent);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                federated()
                    .setAggregation("dp-fedavg")
                    .setNetwork("linear(8), batchnorm, relu, linear(3)")
                    .setInputShape(new int[] {8})
                    .fit(data));
    assertTrue(e.getMessage().contains("not allowed under DP-SGD"), e.getMessage());
  }
}
