package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Path;
import java.util.List;
import org.apache.spark.SparkException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.tensor.cuda.CudaAvailability;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code device} Param on a real local Spark: defaults, refusal of unknown values, persistence,
 * and {@code cuda} on a machine without CUDA failing with the reason, in {@code fit} before any job
 * and in a {@code transform} task.
 */
class DeviceParamTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  /** What a task or fit on this machine (local mode: the executor is the driver) says. */
  private static String noCudaHere() {
    return "device=cuda asked, but CUDA is unavailable on executor driver (127.0.0.1): "
        + CudaAvailability.status().reason();
  }

  private static void assumeNoCuda() {
    assumeFalse(CudaAvailability.isAvailable(), "this machine has CUDA");
  }

  @Test
  void everyStageDefaultsToAutoAndRefusesOtherValuesNamingTheParamAndItsValues() {
    assertEquals("auto", new EmberClassifier().getDevice());
    assertEquals("auto", new EmberRegressor().getDevice());
    assertEquals("cpu", new EmberClassifier().setDevice("cpu").getDevice());
    assertEquals("cuda", new EmberRegressor().setDevice("cuda").getDevice());
    EmberClassifier clf = new EmberClassifier();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> clf.setDevice("gpu"));
    assertEquals("device='gpu' is not one of auto, cpu, cuda", e.getMessage());
    assertEquals("auto", clf.getDevice(), "a refused value is not set");
    assertFalse((Boolean) clf.device().isValid().apply("CUDA"), "values are lower case");
  }

  @Test
  void fitCopiesTheDeviceToTheModelAndSaveLoadKeepsIt(@TempDir Path dir) throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 60, 8, 3, 4, 2);
    EmberClassificationModel model =
        EmberClassifierTest.mlp().setDevice("cpu").setMaxEpochs(1).fit(data);
    assertEquals("cpu", model.getDevice());

    String modelPath = dir.resolve("model").toString();
    model.copy(new org.apache.spark.ml.param.ParamMap()).setDevice("cuda").write().save(modelPath);
    EmberClassificationModel loaded = EmberClassificationModel.load(modelPath);
    assertEquals("cuda", loaded.getDevice());
    assertEquals(model.uid(), loaded.uid());

    String estimatorPath = dir.resolve("estimator").toString();
    new EmberRegressor().setDevice("cpu").write().save(estimatorPath);
    assertEquals("cpu", EmberRegressor.load(estimatorPath).getDevice());
  }

  @Test
  void fitWithCudaFailsBeforeAnyJobNamingTheExecutorAndTheReason() {
    assumeNoCuda();
    Dataset<Row> data = TestData.blobs(spark, 60, 8, 3, 4, 2);
    String group = "device-cuda-fit-" + System.nanoTime();
    spark.sparkContext().setJobGroup(group, "device=cuda fit", false);
    try {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> EmberClassifierTest.mlp().setDevice("cuda").fit(data));
      assertEquals(noCudaHere(), e.getMessage());
      assertTrue(
          CudaAvailability.status().reason().startsWith("no NVIDIA driver: libcuda.so.1 not found"),
          CudaAvailability.status().reason());
      assertEquals(
          0,
          spark.sparkContext().statusTracker().getJobIdsForGroup(group).length,
          "no Spark job ran");
    } finally {
      spark.sparkContext().clearJobGroup();
    }
  }

  @Test
  void aTransformTaskWithCudaFailsNamingTheExecutorAndTheReason() {
    assumeNoCuda();
    Dataset<Row> data = TestData.blobs(spark, 60, 8, 3, 4, 2);
    EmberClassificationModel model = EmberClassifierTest.mlp().setMaxEpochs(1).fit(data);
    assertEquals("auto", model.getDevice(), "auto trains on the CPU here, with nothing to say");
    SparkException e =
        assertThrows(
            SparkException.class,
            () -> model.setDevice("cuda").transform(data).select("prediction").collectAsList());
    // Spark reports the task's exception as "<class>: <message>" inside its own message
    assertTrue(
        e.getMessage().contains("java.lang.IllegalStateException: " + noCudaHere()),
        e.getMessage());
    model.setDevice("cpu");
    List<Row> rows = model.transform(data).select("prediction").collectAsList();
    assertEquals(60, rows.size(), "the same model scores with device=cpu");
  }
}
