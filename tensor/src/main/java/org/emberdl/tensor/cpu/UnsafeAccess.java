package org.emberdl.tensor.cpu;

import java.lang.reflect.Field;
import sun.misc.Unsafe;

/**
 * {@code sun.misc.Unsafe}, the one way on Java 17 to move data between off-heap memory and heap
 * arrays in bulk ({@code copyMemory}) without a per-element bounds check. Kernels copy tiles of
 * off-heap data into heap arrays because C2 auto-vectorizes loops over arrays but not over raw
 * addresses (see PERFORMANCE-NOTES).
 */
final class UnsafeAccess {
  static final Unsafe UNSAFE = load();
  static final long FLOAT_BASE = Unsafe.ARRAY_FLOAT_BASE_OFFSET;
  static final long DOUBLE_BASE = Unsafe.ARRAY_DOUBLE_BASE_OFFSET;
  static final long LONG_BASE = Unsafe.ARRAY_LONG_BASE_OFFSET;
  static final long INT_BASE = Unsafe.ARRAY_INT_BASE_OFFSET;
  static final long BYTE_BASE = Unsafe.ARRAY_BYTE_BASE_OFFSET;

  private UnsafeAccess() {}

  private static Unsafe load() {
    try {
      Field f = Unsafe.class.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      return (Unsafe) f.get(null);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
}
