package org.emberdl.tensor.memory;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * Keeps freed native blocks for reuse by the next allocation of the same size class, as PyTorch's
 * and TensorFlow's caching allocators do. A training step allocates the same sizes every step;
 * returning large blocks to the OS and asking again would cost a page fault per 4 KiB on every step
 * (measured: a third of the time of an MLP step went to the kernel). The cache is bounded ({@code
 * -Demberdl.cpu.cacheBytes}, default 512 MiB); beyond the bound blocks are freed.
 *
 * <p>Arrow's accounting is unaffected: a cached block counts as freed for the allocator.
 */
final class BlockCache {
  private static final long LIMIT = Long.getLong("emberdl.cpu.cacheBytes", 512L << 20);
  private static final ConcurrentHashMap<Long, ConcurrentLinkedDeque<Long>> FREE =
      new ConcurrentHashMap<>();
  private static final AtomicLong CACHED = new AtomicLong();

  private BlockCache() {}

  /**
   * The size class of a request: multiples of 64 bytes up to 64 KiB, then of 1/16 of the next power
   * of two (at most 6% waste).
   */
  static long sizeClass(long bytes) {
    if (bytes <= 65536) {
      return (bytes + 63) & -64L;
    }
    long step = Long.highestOneBit(bytes - 1) >>> 4;
    return (bytes + step - 1) / step * step;
  }

  /** A block of {@code sizeClass} bytes (as returned by {@link #sizeClass}). */
  static long allocate(long sizeClass) {
    ConcurrentLinkedDeque<Long> list = FREE.get(sizeClass);
    if (list != null) {
      Long block = list.pollFirst();
      if (block != null) {
        CACHED.addAndGet(-sizeClass);
        return block;
      }
    }
    return MemoryUtil.allocateMemory(sizeClass);
  }

  static void free(long address, long sizeClass) {
    if (CACHED.addAndGet(sizeClass) > LIMIT) {
      CACHED.addAndGet(-sizeClass);
      MemoryUtil.freeMemory(address);
      return;
    }
    FREE.computeIfAbsent(sizeClass, k -> new ConcurrentLinkedDeque<>()).addFirst(address);
  }

  /** Bytes held in the cache (not counted as allocated by Arrow). */
  static long cachedBytes() {
    return CACHED.get();
  }

  /** Frees every cached block. */
  static void trim() {
    for (ConcurrentLinkedDeque<Long> list : FREE.values()) {
      Long block;
      while ((block = list.pollFirst()) != null) {
        MemoryUtil.freeMemory(block);
      }
    }
    CACHED.set(0);
  }
}
