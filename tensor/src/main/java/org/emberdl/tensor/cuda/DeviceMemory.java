package org.emberdl.tensor.cuda;

/**
 * Raw device memory, the seam of {@link CachingDeviceAllocator}: the driver's {@code cuMemAlloc}
 * and {@code cuMemFree} on a GPU ({@link DriverMemory}), plain Java bookkeeping in the allocator's
 * own tests.
 */
public interface DeviceMemory {
  /**
   * Allocates {@code bytes} on the device.
   *
   * @return the device address, or 0 when the device has no room left (the driver's
   *     CUDA_ERROR_OUT_OF_MEMORY), so the caller may free cached blocks and try again
   * @throws IllegalStateException for any other failure, naming the driver's error
   */
  long malloc(long bytes);

  /** Frees a block {@link #malloc} returned. */
  void free(long address);

  /** A name for messages, e.g. {@code cuda:0 (NVIDIA H100 80GB HBM3, 79.1 GiB)}. */
  String describe();
}
