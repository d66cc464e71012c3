package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.DOUBLE_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.FLOAT_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.LONG_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import java.util.Arrays;
import org.emberdl.tensor.DType;

/**
 * Moves one tile between a strided operand and a heap array, converting dtypes. Dense runs of the
 * array's own family use one {@code copyMemory}; everything else is a scalar loop. Conversions
 * follow C casts (float to int truncates), as PyTorch's do.
 */
final class TileIO {
  /**
   * Below this many elements a scalar loop beats {@code copyMemory} between heap and off-heap
   * memory, which costs tens of nanoseconds per call (it is not intrinsified for heap arrays).
   */
  static final int BULK_MIN = 64;

  private TileIO() {}

  /** Loads {@code n} elements into tile slot {@code slot} at position {@code pos}. */
  static void load(
      Family fam, Operand o, long off, long stride, int n, Workspace w, int slot, int pos) {
    switch (fam) {
      case F -> loadF(o, off, stride, n, w.f[slot], pos);
      case D -> loadD(o, off, stride, n, w.d[slot], pos);
      case L -> loadL(o, off, stride, n, w.l[slot], pos);
    }
  }

  /** Stores {@code n} elements of tile slot {@code slot} from position {@code pos}. */
  static void store(
      Family fam, Workspace w, int slot, int pos, Operand o, long off, long stride, int n) {
    switch (fam) {
      case F -> storeF(w.f[slot], pos, o, off, stride, n);
      case D -> storeD(w.d[slot], pos, o, off, stride, n);
      case L -> storeL(w.l[slot], pos, o, off, stride, n);
    }
  }

  static void loadF(Operand o, long off, long stride, int n, float[] dst, int pos) {
    if (o.constant) {
      Arrays.fill(dst, pos, pos + n, (float) o.value);
      return;
    }
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.FLOAT32 && stride == 1 && n >= BULK_MIN) {
      UNSAFE.copyMemory(null, a, dst, FLOAT_BASE + 4L * pos, 4L * n);
      return;
    }
    if (stride == 0) {
      Arrays.fill(dst, pos, pos + n, (float) readDouble(t, a));
      return;
    }
    long step = stride * size;
    switch (t) {
      case FLOAT32 -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[pos + i] = UNSAFE.getFloat(a);
        }
      }
      case FLOAT64 -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[pos + i] = (float) UNSAFE.getDouble(a);
        }
      }
      case INT32 -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[pos + i] = UNSAFE.getInt(a);
        }
      }
      case INT64 -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[pos + i] = UNSAFE.getLong(a);
        }
      }
      case BOOL -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[pos + i] = UNSAFE.getByte(a) != 0 ? 1f : 0f;
        }
      }
    }
  }

  static void loadD(Operand o, long off, long stride, int n, double[] dst, int pos) {
    if (o.constant) {
      Arrays.fill(dst, pos, pos + n, o.value);
      return;
    }
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.FLOAT64 && stride == 1 && n >= BULK_MIN) {
      UNSAFE.copyMemory(null, a, dst, DOUBLE_BASE + 8L * pos, 8L * n);
      return;
    }
    if (stride == 0) {
      Arrays.fill(dst, pos, pos + n, readDouble(t, a));
      return;
    }
    long step = stride * size;
    for (int i = 0; i < n; i++, a += step) {
      dst[pos + i] = readDouble(t, a);
    }
  }

  static void loadL(Operand o, long off, long stride, int n, long[] dst, int pos) {
    if (o.constant) {
      Arrays.fill(dst, pos, pos + n, (long) o.value);
      return;
    }
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.INT64 && stride == 1 && n >= BULK_MIN) {
      UNSAFE.copyMemory(null, a, dst, LONG_BASE + 8L * pos, 8L * n);
      return;
    }
    if (stride == 0) {
      Arrays.fill(dst, pos, pos + n, readLong(t, a));
      return;
    }
    long step = stride * size;
    for (int i = 0; i < n; i++, a += step) {
      dst[pos + i] = readLong(t, a);
    }
  }

  static void storeF(float[] src, int pos, Operand o, long off, long stride, int n) {
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.FLOAT32 && stride == 1 && n >= BULK_MIN) {
      UNSAFE.copyMemory(src, FLOAT_BASE + 4L * pos, null, a, 4L * n);
      return;
    }
    long step = stride * size;
    switch (t) {
      case FLOAT32 -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putFloat(a, src[pos + i]);
        }
      }
      case FLOAT64 -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putDouble(a, src[pos + i]);
        }
      }
      case INT32 -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putInt(a, (int) src[pos + i]);
        }
      }
      case INT64 -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putLong(a, (long) src[pos + i]);
        }
      }
      case BOOL -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putByte(a, src[pos + i] != 0f ? (byte) 1 : (byte) 0);
        }
      }
    }
  }

  static void storeD(double[] src, int pos, Operand o, long off, long stride, int n) {
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.FLOAT64 && stride == 1 && n >= BULK_MIN) {
      UNSAFE.copyMemory(src, DOUBLE_BASE + 8L * pos, null, a, 8L * n);
      return;
    }
    long step = stride * size;
    for (int i = 0; i < n; i++, a += step) {
      writeDouble(t, a, src[pos + i]);
    }
  }

  static void storeL(long[] src, int pos, Operand o, long off, long stride, int n) {
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.INT64 && stride == 1 && n >= BULK_MIN) {
      UNSAFE.copyMemory(src, LONG_BASE + 8L * pos, null, a, 8L * n);
      return;
    }
    long step = stride * size;
    for (int i = 0; i < n; i++, a += step) {
      writeLong(t, a, src[pos + i]);
    }
  }

  static double readDouble(DType t, long a) {
    return switch (t) {
      case FLOAT32 -> UNSAFE.getFloat(a);
      case FLOAT64 -> UNSAFE.getDouble(a);
      case INT32 -> UNSAFE.getInt(a);
      case INT64 -> UNSAFE.getLong(a);
      case BOOL -> UNSAFE.getByte(a) != 0 ? 1 : 0;
    };
  }

  static long readLong(DType t, long a) {
    return switch (t) {
      case FLOAT32 -> (long) UNSAFE.getFloat(a);
      case FLOAT64 -> (long) UNSAFE.getDouble(a);
      case INT32 -> UNSAFE.getInt(a);
      case INT64 -> UNSAFE.getLong(a);
      case BOOL -> UNSAFE.getByte(a) != 0 ? 1 : 0;
    };
  }

  static void writeDouble(DType t, long a, double v) {
    switch (t) {
      case FLOAT32 -> UNSAFE.putFloat(a, (float) v);
      case FLOAT64 -> UNSAFE.putDouble(a, v);
      case INT32 -> UNSAFE.putInt(a, (int) v);
      case INT64 -> UNSAFE.putLong(a, (long) v);
      case BOOL -> UNSAFE.putByte(a, v != 0 ? (byte) 1 : (byte) 0);
    }
  }

  static void writeLong(DType t, long a, long v) {
    switch (t) {
      case FLOAT32 -> UNSAFE.putFloat(a, (float) v);
      case FLOAT64 -> UNSAFE.putDouble(a, (double) v);
      case INT32 -> UNSAFE.putInt(a, (int) v);
      case INT64 -> UNSAFE.putLong(a, v);
      case BOOL -> UNSAFE.putByte(a, v != 0 ? (byte) 1 : (byte) 0);
    }
  }
}
