package org.emberdl.tensor.cuda;

import org.bytedeco.cuda.global.cudart;

/** A device's memory through the driver: {@code cuMemAlloc} and {@code cuMemFree}. */
final class DriverMemory implements DeviceMemory {
  private final CudaContext context;

  DriverMemory(CudaContext context) {
    this.context = context;
  }

  @Override
  public long malloc(long bytes) {
    context.makeCurrent();
    long[] address = new long[1];
    int rc = cudart.cuMemAlloc(address, bytes);
    if (rc == Cuda.ERROR_OUT_OF_MEMORY) {
      return 0;
    }
    Cuda.check(rc, "cuMemAlloc(" + bytes + " bytes on " + context.name() + ")");
    return address[0];
  }

  @Override
  public void free(long address) {
    context.makeCurrent();
    // a block may still be read by queued kernels: the stream finishes them first
    context.synchronize("freeing a cached block");
    Cuda.check(cudart.cuMemFree(address), "cuMemFree(" + context.name() + ")");
  }

  @Override
  public String describe() {
    return context.device().toString();
  }
}
