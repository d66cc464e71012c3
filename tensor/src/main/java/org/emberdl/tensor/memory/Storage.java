package org.emberdl.tensor.memory;

import org.apache.arrow.memory.ArrowBuf;
import org.emberdl.tensor.Device;

/**
 * A reference-counted block of memory on a device, shared by every array that views it. The count
 * is the {@link ArrowBuf}'s own, so memory imported from or exported to Arrow is shared under one
 * count: whichever side releases last frees it.
 */
public final class Storage {
  private final ArrowBuf buffer;
  private final Device device;

  /**
   * Adopts one reference to {@code buffer}; the storage releases it when its count reaches zero.
   */
  public Storage(ArrowBuf buffer, Device device) {
    this.buffer = buffer;
    this.device = device;
  }

  /** Allocates {@code bytes} (uninitialized) of host memory from {@link Allocators#cpu()}. */
  public static Storage allocateCpu(long bytes) {
    return new Storage(Allocators.cpu().buffer(Math.max(bytes, 0)), Device.CPU);
  }

  /** The memory address of byte 0 (a device pointer for device memory). */
  public long address() {
    return buffer.memoryAddress();
  }

  public long byteSize() {
    return buffer.capacity();
  }

  public Device device() {
    return device;
  }

  /** The underlying Arrow buffer; its reference count is this storage's. */
  public ArrowBuf arrowBuf() {
    return buffer;
  }

  /** Adds one reference (a new view). */
  public void retain() {
    buffer.getReferenceManager().retain();
  }

  /** Drops one reference; the memory is freed when the last one goes. */
  public void release() {
    buffer.getReferenceManager().release();
  }

  public int refCount() {
    return buffer.getReferenceManager().getRefCount();
  }
}
