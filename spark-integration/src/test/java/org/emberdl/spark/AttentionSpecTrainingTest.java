package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The attention tokens of a network spec train through EmberClassifier like any other. */
class AttentionSpecTrainingTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  @Test
  void aPatchTransformerSpecOnImageShapedFeatures() {
    // 16 features seen as 1x4x4 images: 4 patches of 2x2, a CLS token, one encoder layer
    Dataset<Row> data = TestData.blobs(spark, 300, 16, 3, 14, 2);
    EmberClassificationModel model =
        new EmberClassifier()
            .setNetwork(
                "patches(2), linear(8), clsToken, posEmbedding(std=0.02),"
                    + " transformer(8, 2, 16, dropout=0, prenorm), clsPool, linear(3)")
            .setInputShape(new int[] {1, 4, 4})
            .setBatchSize(32)
            .setMaxEpochs(6)
            .setLearningRate(0.01)
            .fit(data);
    assertEquals(3, model.numClasses());
    double accuracy =
        new MulticlassClassificationEvaluator()
            .setMetricName("accuracy")
            .evaluate(model.transform(data));
    assertTrue(accuracy > 0.9, "accuracy " + accuracy);
  }
}
