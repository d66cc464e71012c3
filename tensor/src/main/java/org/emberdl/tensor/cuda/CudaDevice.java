package org.emberdl.tensor.cuda;

import java.util.Locale;

/**
 * One CUDA device as the driver reports it.
 *
 * @param index the driver's device ordinal (as in {@code cuda:0}; Spark's GPU addresses are these
 *     ordinals within the devices {@code CUDA_VISIBLE_DEVICES} leaves visible)
 * @param name the product name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param totalMemoryBytes the device's global memory
 * @param computeMajor the compute capability's major version (9 for sm_90)
 * @param computeMinor the compute capability's minor version
 */
public record CudaDevice(
    int index, String name, long totalMemoryBytes, int computeMajor, int computeMinor) {
  /** The compute capability as CUDA spells it, e.g. {@code 9.0}. */
  public String computeCapability() {
    return computeMajor + "." + computeMinor;
  }

  /** E.g. {@code cuda:0 NVIDIA H100 80GB HBM3, 79.1 GiB, compute capability 9.0}. */
  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "cuda:%d %s, %.1f GiB, compute capability %s",
        index,
        name,
        totalMemoryBytes / (double) (1L << 30),
        computeCapability());
  }
}
