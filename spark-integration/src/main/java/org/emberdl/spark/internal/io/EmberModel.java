package org.emberdl.spark.internal.io;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.emberdl.spark.EmberParams;
import org.emberdl.spark.TrainingSummary;

/** What Ember's model classes share for persistence and inference. */
public interface EmberModel<M extends EmberModel<M>> extends EmberParams<M> {
  /** The trained weights: the network's state dict as safetensors bytes. */
  byte[] weights();

  /** Outputs per example (classes for a classifier). */
  int numOutputs();

  /** The training summary, or null when the model has none (e.g. built by hand). */
  TrainingSummary summaryOrNull();

  /**
   * The ONNX model whose graph is the network (its weights are {@link #weights()}), or null when
   * the network is defined by layers, network or moduleFactory.
   */
  default byte[] onnxGraph() {
    return null;
  }

  /** A key for the executors' replica pools: the uid and a digest of the weights. */
  static String replicaKey(String uid, byte[] weights) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(weights);
      return "model-" + uid + "-" + HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
