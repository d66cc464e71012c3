package org.emberdl.spark.internal.io;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.io.Safetensors;
import org.emberdl.tensor.io.SafetensorsFormatException;

/** The check that keeps a model whose training diverged from being saved as if it were fine. */
final class FiniteWeights {
  private FiniteWeights() {}

  /**
   * Throws when a float tensor of the safetensors {@code weights} holds NaN or infinity, naming the
   * first one (training that diverged, e.g. with too high a learning rate, ends so).
   */
  static void check(byte[] weights, String path) {
    Map<String, ByteBuffer> views;
    List<Safetensors.TensorInfo> infos;
    try {
      views = Safetensors.dataViews(weights);
      infos = Safetensors.readHeader(weights);
    } catch (SafetensorsFormatException e) {
      throw new IllegalArgumentException("the model's weights are not valid safetensors", e);
    }
    for (Safetensors.TensorInfo t : infos) {
      ByteBuffer b = views.get(t.name());
      long at = -1;
      double value = 0;
      if (t.dtype() == DType.FLOAT32) {
        for (int i = 0; i < b.remaining() / 4 && at < 0; i++) {
          float v = b.getFloat(4 * i);
          if (!Float.isFinite(v)) {
            at = i;
            value = v;
          }
        }
      } else if (t.dtype() == DType.FLOAT64) {
        for (int i = 0; i < b.remaining() / 8 && at < 0; i++) {
          double v = b.getDouble(8 * i);
          if (!Double.isFinite(v)) {
            at = i;
            value = v;
          }
        }
      }
      if (at >= 0) {
        throw new IllegalArgumentException(
            "refusing to save the model to "
                + path
                + ": its weights are not finite (tensor '"
                + t.name()
                + "' holds "
                + value
                + " at flat index "
                + at
                + "), as after training that diverged (try a lower learningRate); save it anyway"
                + " with write().option(\""
                + ModelIO.ALLOW_NON_FINITE
                + "\", \"true\")");
      }
    }
  }
}
