package org.emberdl.tensor.memory;

import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ReferenceManager;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * Arrow allocation manager that hands out 64-byte aligned native memory. Arrow's own managers give
 * malloc's 16-byte alignment; kernels that stream through memory in cache lines (and AVX loads) run
 * measurably faster on 64-byte aligned buffers.
 */
final class AlignedAllocationManager extends AllocationManager {
  static final int ALIGNMENT = 64;

  static final AllocationManager.Factory FACTORY =
      new AllocationManager.Factory() {
        private final ArrowBuf empty =
            new ArrowBuf(ReferenceManager.NO_OP, null, 0, MemoryUtil.allocateMemory(0));

        @Override
        public AllocationManager create(BufferAllocator accountingAllocator, long size) {
          return new AlignedAllocationManager(accountingAllocator, size);
        }

        @Override
        public ArrowBuf empty() {
          return empty;
        }
      };

  private final long rawAddress;
  private final long rawSize;
  private final long alignedAddress;
  private final long size;

  private AlignedAllocationManager(BufferAllocator accountingAllocator, long size) {
    super(accountingAllocator);
    this.rawSize = BlockCache.sizeClass(size + ALIGNMENT);
    this.rawAddress = BlockCache.allocate(rawSize);
    this.alignedAddress = (rawAddress + ALIGNMENT - 1) & -ALIGNMENT;
    this.size = size;
  }

  @Override
  public long getSize() {
    return size;
  }

  @Override
  protected long memoryAddress() {
    return alignedAddress;
  }

  @Override
  protected void release0() {
    BlockCache.free(rawAddress, rawSize);
  }
}
