package org.emberdl.tensor.cuda;

/**
 * A snapshot of a {@link CachingDeviceAllocator}'s counters.
 *
 * @param allocatedBytes bytes in blocks that arrays hold now (block sizes, after rounding)
 * @param reservedBytes bytes the allocator holds from the device: allocated plus cached
 * @param cachedBytes freed blocks kept for reuse ({@code reserved - allocated})
 * @param peakAllocatedBytes the most bytes arrays held at once
 * @param peakReservedBytes the most bytes held from the device at once
 * @param deviceMallocs calls of the device's malloc (cudaMalloc / cuMemAlloc)
 * @param deviceFrees blocks given back to the device
 * @param cacheHits allocations served from the cache
 */
public record AllocatorStats(
    long allocatedBytes,
    long reservedBytes,
    long cachedBytes,
    long peakAllocatedBytes,
    long peakReservedBytes,
    long deviceMallocs,
    long deviceFrees,
    long cacheHits) {}
