package org.emberdl.tensor.memory;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The process-wide root allocator of host memory. Every CPU array's storage is an {@code ArrowBuf}
 * from this root (or from an Arrow allocator the caller owns, for zero-copy import), so Arrow's
 * accounting doubles as Ember's leak check: {@link #cpuAllocatedBytes()} is zero when every array
 * has been closed.
 *
 * <p>The limit is {@code -Demberdl.cpu.maxBytes} (default: unlimited); exceeding it throws Arrow's
 * {@code OutOfMemoryException} naming the request.
 */
public final class Allocators {
  private static final long MAX_BYTES = Long.getLong("emberdl.cpu.maxBytes", Long.MAX_VALUE);

  private Allocators() {}

  private static final class Holder {
    static final BufferAllocator CPU =
        new RootAllocator(
            RootAllocator.configBuilder()
                .allocationManagerFactory(AlignedAllocationManager.FACTORY)
                .maxAllocation(MAX_BYTES)
                .build());
  }

  /** The root allocator of CPU array storage. Callers must not close it. */
  public static BufferAllocator cpu() {
    return Holder.CPU;
  }

  /** Bytes of CPU array storage currently allocated and not yet freed. */
  public static long cpuAllocatedBytes() {
    return Holder.CPU.getAllocatedMemory();
  }

  /** Bytes of freed blocks kept for reuse (not counted by {@link #cpuAllocatedBytes()}). */
  public static long cpuCachedBytes() {
    return BlockCache.cachedBytes();
  }

  /** Returns every cached free block to the operating system. */
  public static void trimCpuCache() {
    BlockCache.trim();
  }

  /** The most CPU bytes ever allocated at once. */
  public static long cpuPeakBytes() {
    return Holder.CPU.getPeakMemoryAllocation();
  }
}
