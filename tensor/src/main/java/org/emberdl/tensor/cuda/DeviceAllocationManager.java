package org.emberdl.tensor.cuda;

import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ReferenceManager;

/**
 * Arrow's view of a device block: a {@link org.emberdl.tensor.memory.Storage} is an {@link
 * ArrowBuf}, whose reference count frees it; here the buffer's address is a device pointer from the
 * {@link CachingDeviceAllocator}, and the last release returns the block to its cache. Arrow never
 * reads the memory (it would be a device address to the host): Ember's CUDA backend copies through
 * the driver.
 */
final class DeviceAllocationManager extends AllocationManager {
  private final CachingDeviceAllocator allocator;
  private final long address;
  private final long size;

  private DeviceAllocationManager(
      BufferAllocator accountingAllocator, CachingDeviceAllocator allocator, long size) {
    super(accountingAllocator);
    this.allocator = allocator;
    this.size = size;
    this.address = allocator.allocate(size);
  }

  /** Arrow's factory of managers over {@code allocator}. */
  static AllocationManager.Factory factory(CachingDeviceAllocator allocator) {
    return new AllocationManager.Factory() {
      @Override
      public AllocationManager create(BufferAllocator accountingAllocator, long size) {
        return new DeviceAllocationManager(accountingAllocator, allocator, size);
      }

      @Override
      public ArrowBuf empty() {
        return new ArrowBuf(ReferenceManager.NO_OP, null, 0, 0);
      }
    };
  }

  @Override
  public long getSize() {
    return size;
  }

  @Override
  protected long memoryAddress() {
    return address;
  }

  @Override
  protected void release0() {
    allocator.free(address);
  }
}
