package org.emberdl.tensor.cuda;

import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.emberdl.tensor.memory.Storage;
import sun.misc.Unsafe;

/**
 * Host-device copies through one page-locked (pinned) staging buffer per engine: the DMA engine
 * reads and writes pinned memory directly at full bus speed, while a copy from pageable memory is
 * staged by the driver anyway, synchronously and slower. Copies of any size go through in chunks of
 * the buffer's size; each chunk's device copy is queued on the engine's stream after its kernels,
 * so a copy to the host sees every earlier kernel's result.
 */
final class PinnedStaging {
  static final long CHUNK = 8L << 20;
  private static final Unsafe UNSAFE = unsafe();

  private final CudaContext context;
  private final Pointer buffer;
  private final long address;

  PinnedStaging(CudaContext context) {
    this.context = context;
    context.makeCurrent();
    try (PointerPointer<Pointer> out = new PointerPointer<>(1)) {
      // flags 0: plain pinned memory, for this context
      Cuda.check(cudart.cuMemHostAlloc(out, CHUNK, 0), "cuMemHostAlloc(" + CHUNK + " bytes)");
      this.buffer = out.get(0);
    }
    this.address = buffer.address();
  }

  synchronized void toDevice(long hostAddress, Storage dst, long dstByteOffset, long bytes) {
    context.makeCurrent();
    for (long done = 0; done < bytes; done += CHUNK) {
      long n = Math.min(CHUNK, bytes - done);
      UNSAFE.copyMemory(hostAddress + done, address, n);
      Cuda.check(
          cudart.cuMemcpyHtoDAsync(
              dst.address() + dstByteOffset + done, buffer, n, context.stream()),
          "cuMemcpyHtoDAsync(" + n + " bytes to " + context.name() + ")");
      // the buffer is reused by the next chunk (and the next copy): wait for the DMA
      context.synchronize("a copy to the device");
    }
  }

  synchronized void toHost(Storage src, long srcByteOffset, long hostAddress, long bytes) {
    context.makeCurrent();
    for (long done = 0; done < bytes; done += CHUNK) {
      long n = Math.min(CHUNK, bytes - done);
      Cuda.check(
          cudart.cuMemcpyDtoHAsync(
              buffer, src.address() + srcByteOffset + done, n, context.stream()),
          "cuMemcpyDtoHAsync(" + n + " bytes from " + context.name() + ")");
      context.synchronize("a copy to the host");
      UNSAFE.copyMemory(address, hostAddress + done, n);
    }
  }

  private static Unsafe unsafe() {
    try {
      java.lang.reflect.Field f = Unsafe.class.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      return (Unsafe) f.get(null);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
}
