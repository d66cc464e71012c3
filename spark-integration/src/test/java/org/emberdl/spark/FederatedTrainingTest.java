package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
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
