package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.io.StateDicts;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.train.Federation;
import org.emberdl.tensor.Generator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** aggregation = fedavg / fedprox: partitions are clients. */
class FederatedTrainingTest {
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

  @Test
  void fedAvgAndFedProxLearnWithSampledClients() {
    Dataset<Row> data = TestData.blobs(spark, 600, 8, 3, 31, 4);
    EmberClassifier fedAvg =
        EmberClassifierTest.mlp()
            .setNumPartitions(4)
            .setAggregation("fedavg")
            .setClientFraction(0.5)
            .setLocalEpochs(2)
            .setBatchSize(20)
            .setMaxEpochs(4)
            .setLearningRate(0.02);
    EmberClassificationModel model = fedAvg.fit(data);
    assertTrue(accuracy(model, data) > 0.95);
    assertEquals(1, model.trainingSummary().roundsPerEpoch());
    assertEquals(4, model.trainingSummary().epochs().size());
    assertArrayEquals(model.weights(), fedAvg.fit(data).weights()); // sampling is seeded

    EmberClassificationModel prox =
        fedAvg
            .copy(new org.apache.spark.ml.param.ParamMap())
            .setAggregation("fedprox")
            .setProximalMu(0.1)
            .fit(data);
    assertTrue(accuracy(prox, data) > 0.95);
    assertFalse(Arrays.equals(model.weights(), prox.weights()));
  }

  /**
   * FedProx adds {@code mu (w - w_round)} to every local gradient. With plain SGD (rate eta) on one
   * client whose rows are all the same row, so that every mini-batch has the same gradient g(w):
   *
   * <pre>
   *   fedavg,  2 steps:  w2  = w0 - eta g(w0) - eta g(w1)
   *   fedprox, 2 steps:  w2' = w0 - eta g(w0) - eta (g(w1) + mu (w1 - w0))   (0 at step 1)
   *   so                 w2' - w2 = -eta mu (w1 - w0),   w1 = the 1-step fedavg result
   * </pre>
   *
   * The server's step is sgd with rate 1 (the default), so a fit's weights are w0 plus the client's
   * delta. A wrong sign, a missing or doubled mu, or a term pulling toward anything but the round's
   * weights all miss the expected difference by at least its own size.
   */
  @Test
  void fedProxAddsMuTimesTheDistanceFromTheRoundWeightsToEachLocalGradient() {
    double eta = 0.1;
    double mu = 0.5;
    EmberClassifier fedAvg =
        EmberClassifierTest.mlp()
            .setNumPartitions(1)
            .setAggregation("fedavg")
            .setClientFraction(1.0)
            .setLocalEpochs(1)
            .setBatchSize(4)
            .setMaxEpochs(1)
            .setOptimizer("sgd")
            .setMomentum(0.0)
            .setLearningRate(eta);
    float[] w0;
    try (Module m = NetworkDefinition.of(fedAvg).build(new Generator(fedAvg.getSeed()))) {
      w0 = TestData.floats(StateDicts.toBytes(m.stateDict()));
    }
    float[] twoSteps = TestData.floats(fedAvg.fit(sameRow(8)).weights());
    float[] oneStep = TestData.floats(fedAvg.fit(sameRow(4)).weights());
    float[] prox =
        TestData.floats(
            fedAvg
                .copy(new org.apache.spark.ml.param.ParamMap())
                .setAggregation("fedprox")
                .setProximalMu(mu)
                .fit(sameRow(8))
                .weights());
    double largest = 0;
    for (int i = 0; i < w0.length; i++) {
      double expected = -eta * mu * ((double) oneStep[i] - w0[i]);
      largest = Math.max(largest, Math.abs(expected));
      assertEquals(expected, (double) prox[i] - twoSteps[i], 1e-6, "weight " + i);
    }
    assertTrue(largest > 1e-3, "the proximal term moves some weight visibly: " + largest);
  }

  /** {@code n} copies of one row of class 1 in one partition. */
  private Dataset<Row> sameRow(int n) {
    float[] x = {1, 0.5f, -1, 0, 2, 0, 0, 0.25f};
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(RowFactory.create(x, 1.0));
    }
    return spark.createDataFrame(rows, TestData.FLOAT_ARRAY_SCHEMA);
  }

  @Test
  void clientSamplingDrawsTheRequestedFractionDeterministically() {
    boolean[] a = Federation.sampleClients(7, 3, 10, 0.3);
    assertEquals(3, count(a));
    assertArrayEquals(a, Federation.sampleClients(7, 3, 10, 0.3));
    assertEquals(1, count(Federation.sampleClients(7, 3, 10, 0.01))); // at least one client
    assertEquals(10, count(Federation.sampleClients(7, 3, 10, 1.0)));
    int differing = 0;
    for (int r = 0; r < 20; r++) {
      if (!Arrays.equals(a, Federation.sampleClients(7, r, 10, 0.3))) {
        differing++;
      }
    }
    assertTrue(differing > 10, "rounds draw different clients");
  }

  private static int count(boolean[] b) {
    int n = 0;
    for (boolean x : b) {
      n += x ? 1 : 0;
    }
    return n;
  }
}
