package org.emberdl.spark.internal.io;

import java.io.IOException;
import java.nio.file.Path;
import org.emberdl.nn.Module;
import org.emberdl.onnx.Onnx;
import org.emberdl.onnx.OnnxModule;
import org.emberdl.spark.internal.infer.BatchInference;
import org.emberdl.spark.internal.local.NetworkDefinition;

/** A Spark model's network, with its weights, written as an ONNX file. */
public final class ModelExport {
  private ModelExport() {}

  /**
   * Writes {@code model}'s network to {@code out}: an imported graph with its current weights, or
   * Ember's export of any other network (input {@code (batch, inputShape...)}).
   *
   * @throws IllegalArgumentException naming the model and the layer (path and class) that has no
   *     ONNX mapping; nothing is written then
   */
  public static void exportOnnx(EmberModel<?> model, Path out) throws IOException {
    NetworkDefinition network = NetworkDefinition.of(model);
    try (Module m = BatchInference.newReplica(network, model.weights())) {
      if (m instanceof OnnxModule imported) {
        imported.exportOnnx(out);
        return;
      }
      int[] shape = network.inputShape();
      long[] batch = new long[shape.length + 1];
      batch[0] = 1;
      for (int i = 0; i < shape.length; i++) {
        batch[i + 1] = shape[i];
      }
      try {
        Onnx.export(m, batch, out);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "model '"
                + model.uid()
                + "' ("
                + network
                + ") cannot be exported to ONNX: "
                + e.getMessage(),
            e);
      }
    }
  }
}
