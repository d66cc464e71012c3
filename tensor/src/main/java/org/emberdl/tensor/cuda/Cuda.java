package org.emberdl.tensor.cuda;

import org.bytedeco.cuda.global.cudart;

/** Checks of driver-API return codes: a failing call becomes an exception naming it and why. */
final class Cuda {
  static final int SUCCESS = 0;
  static final int ERROR_OUT_OF_MEMORY = 2;
  static final int ERROR_UNSUPPORTED_PTX_VERSION = 222;

  private Cuda() {}

  /**
   * Throws unless {@code rc} is CUDA_SUCCESS.
   *
   * @throws IllegalStateException e.g. {@code cuLaunchKernel(ember_unary_f32) on cuda:0 returned
   *     CUDA_ERROR_INVALID_VALUE (1): invalid argument}
   */
  static void check(int rc, String call) {
    if (rc != SUCCESS) {
      throw new IllegalStateException(call + " returned " + DriverQueries.error(rc));
    }
  }

  /** The driver's version, encoded as CUDA does (13010 for 13.1). */
  static int driverVersion() {
    int[] v = new int[1];
    check(cudart.cuDriverGetVersion(v), "cuDriverGetVersion");
    return v[0];
  }
}
