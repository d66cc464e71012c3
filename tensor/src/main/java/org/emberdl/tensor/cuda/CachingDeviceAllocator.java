package org.emberdl.tensor.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Device memory with a cache of freed blocks, as PyTorch's CUDA caching allocator: {@code
 * cudaMalloc} and {@code cudaFree} synchronize the device and cost tens of microseconds, while a
 * training step allocates the same sizes every step; so a freed block is kept and handed to the
 * next request of its size class.
 *
 * <p>Sizes are rounded up to a size class: multiples of 512 bytes up to 1 MiB (PyTorch's
 * granularity for small blocks), then multiples of 1/8 of the request's power of two (at most 12.5%
 * waste; PyTorch's {@code roundup_power2_divisions=8}), so a request reuses any cached block of its
 * class. Blocks are not split, so a block's bytes are its class's.
 *
 * <p>{@code memoryLimit} bounds the bytes reserved from the device (in use plus cached). A request
 * that would pass it, or that the device refuses, first returns every cached block to the device
 * and tries again; only then it fails with {@link DeviceOutOfMemoryException}, naming the request,
 * the bytes in use and cached, the limit and the device.
 *
 * <p>Thread-safe: every method holds the allocator's lock (allocations are rare next to kernels).
 */
public final class CachingDeviceAllocator {
  static final long SMALL_GRANULE = 512;
  static final long SMALL_MAX = 1L << 20;

  private final DeviceMemory memory;
  private final long memoryLimit;
  private final TreeMap<Long, ArrayDeque<Long>> free = new TreeMap<>();
  private final Map<Long, Long> inUse = new HashMap<>();
  private long allocated;
  private long reserved;
  private long peakAllocated;
  private long peakReserved;
  private long mallocs;
  private long frees;
  private long hits;

  /**
   * @param memory the device's raw memory
   * @param memoryLimit the most bytes to reserve from the device; {@code Long.MAX_VALUE} for none
   */
  public CachingDeviceAllocator(DeviceMemory memory, long memoryLimit) {
    if (memoryLimit <= 0) {
      throw new IllegalArgumentException("memoryLimit must be positive, got " + memoryLimit);
    }
    this.memory = memory;
    this.memoryLimit = memoryLimit;
  }

  /** The size class of a request of {@code bytes} (see the class comment). */
  public static long sizeClass(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("a negative allocation: " + bytes + " bytes");
    }
    if (bytes <= SMALL_MAX) {
      return Math.max(SMALL_GRANULE, (bytes + SMALL_GRANULE - 1) / SMALL_GRANULE * SMALL_GRANULE);
    }
    long step = Long.highestOneBit(bytes - 1) >>> 3;
    return (bytes + step - 1) / step * step;
  }

  /**
   * A block of at least {@code bytes}: a cached one of its size class, or a new one from the
   * device.
   *
   * @throws DeviceOutOfMemoryException when the limit or the device cannot serve it even after the
   *     cache is emptied
   */
  public synchronized long allocate(long bytes) {
    long size = sizeClass(bytes);
    ArrayDeque<Long> blocks = free.get(size);
    if (blocks != null && !blocks.isEmpty()) {
      long address = blocks.pop();
      hits++;
      return use(address, size);
    }
    long address = reserve(size);
    if (address == 0) {
      emptyCache();
      address = reserve(size);
    }
    if (address == 0) {
      throw new DeviceOutOfMemoryException(outOfMemory(bytes, size));
    }
    return use(address, size);
  }

  /** A new block from the device, or 0 when the limit or the device refuses it. */
  private long reserve(long size) {
    if (reserved + size > memoryLimit || reserved + size < 0) {
      return 0;
    }
    long address = memory.malloc(size);
    if (address == 0) {
      return 0;
    }
    mallocs++;
    reserved += size;
    peakReserved = Math.max(peakReserved, reserved);
    return address;
  }

  private long use(long address, long size) {
    inUse.put(address, size);
    allocated += size;
    peakAllocated = Math.max(peakAllocated, allocated);
    return address;
  }

  /**
   * Returns a block to the cache.
   *
   * @throws IllegalArgumentException for an address this allocator did not hand out (or freed
   *     already)
   */
  public synchronized void free(long address) {
    Long size = inUse.remove(address);
    if (size == null) {
      throw new IllegalArgumentException(
          "free of device address 0x"
              + Long.toHexString(address)
              + ", which this allocator does not hold in use (freed twice, or not from "
              + memory.describe()
              + ")");
    }
    allocated -= size;
    free.computeIfAbsent(size, k -> new ArrayDeque<>()).push(address);
  }

  /** Gives every cached block back to the device; blocks in use stay. */
  public synchronized void emptyCache() {
    for (Map.Entry<Long, ArrayDeque<Long>> e : free.entrySet()) {
      for (long address : e.getValue()) {
        memory.free(address);
        frees++;
        reserved -= e.getKey();
      }
    }
    free.clear();
  }

  /** The counters now. */
  public synchronized AllocatorStats stats() {
    return new AllocatorStats(
        allocated,
        reserved,
        reserved - allocated,
        peakAllocated,
        peakReserved,
        mallocs,
        frees,
        hits);
  }

  /** The limit on reserved bytes this allocator was made with. */
  public long memoryLimit() {
    return memoryLimit;
  }

  private String outOfMemory(long bytes, long size) {
    boolean limited = reserved + size > memoryLimit;
    return "out of memory on "
        + memory.describe()
        + ": tried to allocate "
        + bytes(bytes)
        + (size != bytes ? " (size class " + bytes(size) + ")" : "")
        + " with "
        + bytes(allocated)
        + " in use by arrays and "
        + bytes(reserved - allocated)
        + " cached (freed already, the cache emptied for this request)"
        + (memoryLimit == Long.MAX_VALUE
            ? "; the device refused it"
            : "; Ember's CUDA memory limit is "
                + bytes(memoryLimit)
                + (limited ? ", which this request would pass" : ", and the device refused it")
                + " (-Demberdl.cuda.maxBytes)")
        + ". Free arrays sooner (close them, or use a MemoryScope) or use smaller batches";
  }

  /** E.g. {@code 1536 bytes}, {@code 3.0 MiB (3145728 bytes)}. */
  static String bytes(long n) {
    if (n < 1024) {
      return n + " bytes";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = n;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(java.util.Locale.ROOT, "%.1f %s (%d bytes)", v, units[u], n);
  }
}
