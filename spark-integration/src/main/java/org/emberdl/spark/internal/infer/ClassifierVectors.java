package org.emberdl.spark.internal.infer;

import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.Vector;

/**
 * The single-row vector arithmetic every Ember classification model shares (trained or imported
 * from ONNX): Spark calls it per row through {@code ProbabilisticClassificationModel}'s hooks.
 */
public final class ClassifierVectors {
  private ClassifierVectors() {}

  /** Whether {@code v} holds a NaN (handleInvalid=keep): such a row predicts NaN, not class 0. */
  public static boolean hasNaN(Vector v) {
    for (double x : v.toArray()) {
      if (Double.isNaN(x)) {
        return true;
      }
    }
    return false;
  }

  /** The softmax of dense logits, written over them as {@link BatchInference} computes it. */
  public static Vector softmaxInPlace(Vector rawPrediction) {
    if (!(rawPrediction instanceof DenseVector dense)) {
      throw new IllegalArgumentException("raw predictions must be dense");
    }
    double[] v = dense.values();
    float[] logits = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      logits[i] = (float) v[i];
    }
    BatchInference.softmax(logits, 0, v.length, new double[v.length], v);
    return dense;
  }
}
