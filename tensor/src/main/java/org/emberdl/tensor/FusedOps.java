package org.emberdl.tensor;

import java.util.Arrays;
import org.emberdl.tensor.ops.AdamStep;

/**
 * Fused multi-array kernels for hot paths that would otherwise take many elementwise passes: the
 * optimizers' updates. Each is one pass over memory.
 */
public final class FusedOps {
  private FusedOps() {}

  /**
   * Applies one Adam/AdamW step (see {@link AdamStep}) in place to {@code param} and the state
   * arrays {@code expAvg} and {@code expAvgSq}.
   *
   * @throws IllegalArgumentException unless all four arrays are contiguous, equally shaped, of one
   *     floating dtype and on one device
   */
  public static void adam(
      NDArray param, NDArray grad, NDArray expAvg, NDArray expAvgSq, AdamStep step) {
    NDArray[] all = {param, grad, expAvg, expAvgSq};
    for (NDArray a : all) {
      if (!a.isContiguous()
          || a.dtype() != param.dtype()
          || !a.dtype().isFloatingPoint()
          || !a.device().equals(param.device())
          || !Arrays.equals(a.shape(), param.shape())) {
        throw new IllegalArgumentException(
            "adam needs contiguous arrays of one floating dtype, shape and device; got "
                + a.dtype()
                + Arrays.toString(a.shape())
                + " on "
                + a.device()
                + " for "
                + param.dtype()
                + Arrays.toString(param.shape()));
      }
    }
    param.backend().adamUpdate(param, grad, expAvg, expAvgSq, step);
  }
}
