package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The caching allocator's logic, on a plain Java device (the allocator's {@link DeviceMemory}
 * seam): size classes, reuse, the limit, the device refusing, stats and the messages.
 */
class CachingDeviceAllocatorTest {
  /** A device of {@code capacity} bytes handing out addresses from 0x1000 on. */
  static final class FakeDevice implements DeviceMemory {
    final long capacity;
    final Map<Long, Long> live = new HashMap<>();
    final List<Long> freed = new ArrayList<>();
    long next = 0x1000;
    long used;

    FakeDevice(long capacity) {
      this.capacity = capacity;
    }

    @Override
    public long malloc(long bytes) {
      if (used + bytes > capacity) {
        return 0;
      }
      long a = next;
      next += bytes;
      live.put(a, bytes);
      used += bytes;
      return a;
    }

    @Override
    public void free(long address) {
      used -= live.remove(address);
      freed.add(address);
    }

    @Override
    public String describe() {
      return "fake:0 (" + capacity + " bytes)";
    }
  }

  @Test
  void sizeClassesAre512ByteStepsTo1MibThenEighthsOfThePowerOfTwo() {
    assertEquals(512, CachingDeviceAllocator.sizeClass(0));
    assertEquals(512, CachingDeviceAllocator.sizeClass(1));
    assertEquals(512, CachingDeviceAllocator.sizeClass(512));
    assertEquals(1024, CachingDeviceAllocator.sizeClass(513));
    assertEquals(1 << 20, CachingDeviceAllocator.sizeClass(1 << 20));
    // 2^20 + 1: step 2^20 / 8 = 131072, ceil((2^20 + 1) / 131072) = 9 steps = 1179648
    assertEquals(1_179_648, CachingDeviceAllocator.sizeClass((1 << 20) + 1));
    // 3,000,000: power of two below 2^21 = 2097152, step 262144, ceil(11.44) = 12 steps
    assertEquals(3_145_728, CachingDeviceAllocator.sizeClass(3_000_000));
    assertEquals(
        "a negative allocation: -1 bytes",
        assertThrows(IllegalArgumentException.class, () -> CachingDeviceAllocator.sizeClass(-1))
            .getMessage());
  }

  @Test
  void aFreedBlockServesTheNextRequestOfItsClassWithoutTheDevice() {
    FakeDevice dev = new FakeDevice(1 << 20);
    CachingDeviceAllocator a = new CachingDeviceAllocator(dev, Long.MAX_VALUE);
    long x = a.allocate(1000); // class 1024
    a.free(x);
    assertEquals(x, a.allocate(700), "700 bytes are in 1000's class (1024)");
    long y = a.allocate(1025); // class 1536: a new block
    assertNotEquals(x, y);
    assertEquals(new AllocatorStats(2560, 2560, 0, 2560, 2560, 2, 0, 1), a.stats());
    a.free(y);
    a.free(x);
    assertEquals(new AllocatorStats(0, 2560, 2560, 2560, 2560, 2, 0, 1), a.stats());
    assertEquals(List.of(), dev.freed, "the cache keeps freed blocks from the device");
    a.emptyCache();
    assertEquals(new AllocatorStats(0, 0, 0, 2560, 2560, 2, 2, 1), a.stats());
    assertEquals(0, dev.used);
  }

  @Test
  void theLimitFirstEmptiesTheCacheThenFailsNamingRequestUseCacheAndLimit() {
    FakeDevice dev = new FakeDevice(1 << 20);
    CachingDeviceAllocator a = new CachingDeviceAllocator(dev, 4096);
    long x = a.allocate(2048);
    long y = a.allocate(1024);
    a.free(y); // 1024 cached, 3072 reserved
    long z = a.allocate(2048); // 3072 + 2048 > 4096: the cached 1024 goes back, then it fits
    assertEquals(List.of(y), dev.freed);
    assertEquals(new AllocatorStats(4096, 4096, 0, 4096, 4096, 3, 1, 0), a.stats());
    DeviceOutOfMemoryException e =
        assertThrows(DeviceOutOfMemoryException.class, () -> a.allocate(100));
    assertEquals(
        "out of memory on fake:0 (1048576 bytes): tried to allocate 100 bytes (size class 512"
            + " bytes) with 4.0 KiB (4096 bytes) in use by arrays and 0 bytes cached (freed"
            + " already, the cache emptied for this request); Ember's CUDA memory limit is 4.0 KiB"
            + " (4096 bytes), which this request would pass (-Demberdl.cuda.maxBytes). Free arrays"
            + " sooner (close them, or use a MemoryScope) or use smaller batches",
        e.getMessage());
    a.free(x);
    a.free(z);
    assertEquals(512, CachingDeviceAllocator.sizeClass(100));
    a.allocate(100); // 4096 cached + 512 > 4096: the cache empties and the request fits
    assertEquals(new AllocatorStats(512, 512, 0, 4096, 4096, 4, 3, 0), a.stats());
  }

  @Test
  void aDeviceThatRefusesIsTriedAgainAfterTheCacheEmptiesThenNamed() {
    FakeDevice dev = new FakeDevice(3072);
    CachingDeviceAllocator a = new CachingDeviceAllocator(dev, Long.MAX_VALUE);
    long x = a.allocate(2048);
    a.free(x);
    long y = a.allocate(3072); // the device has 1024 left: the cached 2048 goes back first
    assertEquals(List.of(x), dev.freed);
    DeviceOutOfMemoryException e =
        assertThrows(DeviceOutOfMemoryException.class, () -> a.allocate(5 << 20));
    assertEquals(
        "out of memory on fake:0 (3072 bytes): tried to allocate 5.0 MiB (5242880 bytes) with 3.0"
            + " KiB (3072 bytes) in use by arrays and 0 bytes cached (freed already, the cache"
            + " emptied for this request); the device refused it. Free arrays sooner (close them,"
            + " or use a MemoryScope) or use smaller batches",
        e.getMessage());
    a.free(y);
  }

  @Test
  void freeingAnUnknownOrFreedAddressIsRefusedByName() {
    CachingDeviceAllocator a = new CachingDeviceAllocator(new FakeDevice(4096), Long.MAX_VALUE);
    long x = a.allocate(10);
    a.free(x);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.free(x));
    assertEquals(
        "free of device address 0x1000, which this allocator does not hold in use (freed twice, or"
            + " not from fake:0 (4096 bytes))",
        e.getMessage());
    assertEquals(
        "memoryLimit must be positive, got 0",
        assertThrows(
                IllegalArgumentException.class,
                () -> new CachingDeviceAllocator(new FakeDevice(1), 0))
            .getMessage());
  }
}
