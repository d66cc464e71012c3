package org.emberdl.tensor.cuda;

import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;

/**
 * One device's primary context (the one the CUDA runtime and cuBLAS share) and the engine's stream:
 * every kernel and copy of a {@link CudaBackend} runs on that stream, in order. A context is
 * current per thread, so each backend entry point calls {@link #makeCurrent} first (a cheap call).
 */
final class CudaContext {
  private final CudaDevice device;
  private final CUctx_st context = new CUctx_st();
  private final CUstream_st stream = new CUstream_st();
  private final String name;

  CudaContext(CudaDevice device) {
    this.device = device;
    this.name = "cuda:" + device.index();
    int[] handle = new int[1];
    Cuda.check(cudart.cuDeviceGet(handle, device.index()), "cuDeviceGet(" + name + ")");
    Cuda.check(
        cudart.cuDevicePrimaryCtxRetain(context, handle[0]),
        "cuDevicePrimaryCtxRetain(" + name + ")");
    makeCurrent();
    // CU_STREAM_NON_BLOCKING (1): no implicit synchronization with the legacy default stream.
    Cuda.check(cudart.cuStreamCreate(stream, 1), "cuStreamCreate(" + name + ")");
  }

  void makeCurrent() {
    Cuda.check(cudart.cuCtxSetCurrent(context), "cuCtxSetCurrent(" + name + ")");
  }

  CUstream_st stream() {
    return stream;
  }

  /** Waits for everything queued on the stream; a kernel's asynchronous error surfaces here. */
  void synchronize(String after) {
    Cuda.check(
        cudart.cuStreamSynchronize(stream), "cuStreamSynchronize(" + name + ") after " + after);
  }

  CudaDevice device() {
    return device;
  }

  String name() {
    return name;
  }
}
