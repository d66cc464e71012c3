package org.emberdl.spark.internal.local;

import java.util.ArrayList;
import java.util.List;
import org.emberdl.nn.Module;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * A module's floating-point buffers (e.g. BatchNorm running statistics) as one flat {@code
 * float[]}, in {@code namedBuffers()} order. Integer buffers (BatchNorm's batch counter) are left
 * out: each replica counts its own, and nothing in training reads them.
 */
public final class ModuleBuffers {
  private ModuleBuffers() {}

  private static List<NDArray> floatBuffers(Module module) {
    List<NDArray> out = new ArrayList<>();
    for (NDArray b : module.namedBuffers().values()) {
      if (b.dtype() == DType.FLOAT32 || b.dtype() == DType.FLOAT64) {
        out.add(b);
      }
    }
    return out;
  }

  public static float[] read(Module module) {
    List<NDArray> buffers = floatBuffers(module);
    long total = 0;
    for (NDArray b : buffers) {
      total += b.numel();
    }
    float[] out = new float[Math.toIntExact(total)];
    int at = 0;
    for (NDArray b : buffers) {
      float[] v = b.toFloatArray();
      System.arraycopy(v, 0, out, at, v.length);
      at += v.length;
    }
    return out;
  }

  public static void write(Module module, float[] values) {
    int at = 0;
    try (MemoryScope scope = MemoryScope.open()) {
      for (NDArray b : floatBuffers(module)) {
        int n = Math.toIntExact(b.numel());
        float[] part = java.util.Arrays.copyOfRange(values, at, at + n);
        b.copyFrom(NDArray.of(part, b.shape()));
        at += n;
      }
    }
    if (at != values.length) {
      throw new IllegalArgumentException(
          "buffers of " + values.length + " values for a module with " + at);
    }
  }
}
