package org.emberdl.tensor.memory;

import java.lang.reflect.Field;
import sun.misc.Unsafe;

/**
 * Bulk copies between Java arrays and host memory addresses: one {@code copyMemory} call per copy,
 * no intermediate buffer. Addresses must point into live storage; callers check bounds.
 */
public final class HostMemory {
  private static final Unsafe UNSAFE = load();

  private HostMemory() {}

  private static Unsafe load() {
    try {
      Field f = Unsafe.class.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      return (Unsafe) f.get(null);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Copies {@code n} elements of {@code src} starting at {@code from} to {@code address}. */
  public static void copyIn(Object src, int from, long address, int n) {
    long[] baseScale = baseAndScale(src);
    UNSAFE.copyMemory(src, baseScale[0] + from * baseScale[1], null, address, n * baseScale[1]);
  }

  /** Copies {@code n} elements from {@code address} into {@code dst} starting at {@code from}. */
  public static void copyOut(long address, Object dst, int from, int n) {
    long[] baseScale = baseAndScale(dst);
    UNSAFE.copyMemory(null, address, dst, baseScale[0] + from * baseScale[1], n * baseScale[1]);
  }

  /** Copies {@code bytes} bytes between two host addresses. */
  public static void copy(long from, long to, long bytes) {
    UNSAFE.copyMemory(from, to, bytes);
  }

  private static long[] baseAndScale(Object array) {
    if (array instanceof float[]) {
      return new long[] {Unsafe.ARRAY_FLOAT_BASE_OFFSET, 4};
    } else if (array instanceof double[]) {
      return new long[] {Unsafe.ARRAY_DOUBLE_BASE_OFFSET, 8};
    } else if (array instanceof int[]) {
      return new long[] {Unsafe.ARRAY_INT_BASE_OFFSET, 4};
    } else if (array instanceof long[]) {
      return new long[] {Unsafe.ARRAY_LONG_BASE_OFFSET, 8};
    } else if (array instanceof byte[]) {
      return new long[] {Unsafe.ARRAY_BYTE_BASE_OFFSET, 1};
    }
    throw new IllegalArgumentException("not a primitive numeric array: " + array.getClass());
  }
}
