package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.internal.io.StateDicts;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

public class EmberClassifierTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  public static EmberClassifier mlp() {
    return new EmberClassifier()
        .setLayers(new int[] {8, 16, 3})
        .setBatchSize(32)
        .setMaxEpochs(3)
        .setLearningRate(0.01)
        .setSeed(7L)
        .setNumPartitions(2);
  }

  /**
   * A classifier built by hand rather than trained: one linear layer from 8 features to 3 classes,
   * logits = {@code w} (3 x 8, row-major) times x plus {@code b}, so that a test knows every
   * output.
   */
  static EmberClassificationModel linearModel(String uid, float[] w, float[] b) {
    Map<String, NDArray> state = new LinkedHashMap<>();
    state.put("0.weight", NDArray.of(w.clone(), 3, 8));
    state.put("0.bias", NDArray.of(b.clone(), 3));
    return new EmberClassificationModel(uid, StateDicts.toBytes(state), 3, null)
        .setLayers(new int[] {8, 3});
  }

  /** {@code weights} with the safetensors tensor {@code name} replaced by {@code values}. */
  static byte[] withTensor(byte[] weights, String name, float[] values) {
    Map<String, NDArray> state = new LinkedHashMap<>();
    try (Safetensors.SafetensorsFile f = Safetensors.read(weights)) {
      for (Map.Entry<String, NDArray> e : f.tensors().entrySet()) {
        NDArray t = e.getValue();
        float[] data = e.getKey().equals(name) ? values : t.toFloatArray();
        state.put(e.getKey(), NDArray.of(data, t.shape()));
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return StateDicts.toBytes(state);
  }

  @Test
  void learnsSeparableBlobsAndOutputsSparkClassifierColumns() {
    Dataset<Row> data = TestData.blobs(spark, 600, 8, 3, 1, 2);
    EmberClassificationModel model = mlp().fit(data);

    Dataset<Row> scored = model.transform(data);
    assertEquals(
        List.of("features", "label", "rawPrediction", "probability", "prediction"),
        List.of(scored.columns()));
    double accuracy =
        new MulticlassClassificationEvaluator().setMetricName("accuracy").evaluate(scored);
    assertTrue(accuracy > 0.97, "accuracy " + accuracy);

    for (Row r : scored.select("rawPrediction", "probability", "prediction").collectAsList()) {
      double[] raw = ((Vector) r.get(0)).toArray();
      double[] p = ((Vector) r.get(1)).toArray();
      assertEquals(3, p.length);
      assertEquals(1.0, p[0] + p[1] + p[2], 1e-9);
      // softmax by hand from the logits
      double m = Math.max(raw[0], Math.max(raw[1], raw[2]));
      double z = Math.exp(raw[0] - m) + Math.exp(raw[1] - m) + Math.exp(raw[2] - m);
      assertEquals(Math.exp(raw[1] - m) / z, p[1], 1e-12);
      int argmax = raw[0] >= raw[1] && raw[0] >= raw[2] ? 0 : raw[1] >= raw[2] ? 1 : 2;
      assertEquals(argmax, r.getDouble(2));
    }

    TrainingSummary summary = model.trainingSummary();
    assertEquals(3, summary.epochs().size());
    assertEquals(2, summary.partitions());
    assertEquals(600, summary.trainRows());
    assertEquals(19, summary.roundsPerEpoch()); // ceil(600 / 32)
    assertTrue(summary.last().loss() < summary.epochs().get(0).loss());
    assertFalse(summary.stoppedEarly());
    assertEquals(3, model.numClasses());
  }

  @Test
  void releaseCachedFreesTheReplicasThatScoringPooled() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 1, 4);
    EmberClassificationModel model = mlp().setMaxEpochs(1).fit(data);
    EmberEngine.releaseCached();
    long before = org.emberdl.tensor.memory.Allocators.cpuAllocatedBytes();
    model.transform(data).count();
    // The scoring replicas stay pooled for the next transform: the network's weights at least.
    long pooled = org.emberdl.tensor.memory.Allocators.cpuAllocatedBytes() - before;
    assertTrue(pooled >= 4L * (8 * 16 + 16 + 16 * 3 + 3), "pooled bytes " + pooled);
    EmberEngine.releaseCached();
    assertEquals(before, org.emberdl.tensor.memory.Allocators.cpuAllocatedBytes());
  }

  @Test
  void sameSeedAndPartitioningGiveTheSameWeights() {
    Dataset<Row> data = TestData.blobs(spark, 300, 8, 3, 2, 3);
    EmberClassifier clf = mlp().setNumPartitions(3).setMaxEpochs(2);
    byte[] a = clf.fit(data).weights();
    byte[] b = clf.fit(data).weights();
    assertArrayEquals(a, b);
    byte[] other =
        clf.copy(new org.apache.spark.ml.param.ParamMap()).setSeed(8L).fit(data).weights();
    assertFalse(java.util.Arrays.equals(a, other));
  }
}
