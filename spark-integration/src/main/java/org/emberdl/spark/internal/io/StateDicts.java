package org.emberdl.spark.internal.io;

import java.util.Map;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;

/** State dicts to safetensors bytes, closing the views a {@code stateDict()} call hands out. */
public final class StateDicts {
  private StateDicts() {}

  public static byte[] toBytes(Map<String, NDArray> state) {
    try {
      return Safetensors.toBytes(state, Map.of());
    } finally {
      state.values().forEach(NDArray::close);
    }
  }
}
