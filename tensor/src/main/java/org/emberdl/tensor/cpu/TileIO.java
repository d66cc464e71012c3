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
  private TileIO() {}

  static void load(Family fam, Operand o, long off, long stride, int n, Workspace w, int slot) {
    switch (fam) {
      case F -> loadF(o, off, stride, n, w.f[slot]);
      case D -> loadD(o, off, stride, n, w.d[slot]);
      case L -> loadL(o, off, stride, n, w.l[slot]);
    }
  }

  static void store(Family fam, Workspace w, int slot, Operand o, long off, long stride, int n) {
    switch (fam) {
      case F -> storeF(w.f[slot], o, off, stride, n);
      case D -> storeD(w.d[slot], o, off, stride, n);
      case L -> storeL(w.l[slot], o, off, stride, n);
    }
  }

  static void loadF(Operand o, long off, long stride, int n, float[] dst) {
    if (o.constant) {
      Arrays.fill(dst, 0, n, (float) o.value);
      return;
    }
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.FLOAT32 && stride == 1) {
      UNSAFE.copyMemory(null, a, dst, FLOAT_BASE, 4L * n);
      return;
    }
    if (stride == 0) {
      Arrays.fill(dst, 0, n, (float) readDouble(t, a));
      return;
    }
    long step = stride * size;
    switch (t) {
      case FLOAT32 -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[i] = UNSAFE.getFloat(a);
        }
      }
      case FLOAT64 -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[i] = (float) UNSAFE.getDouble(a);
        }
      }
      case INT32 -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[i] = UNSAFE.getInt(a);
        }
      }
      case INT64 -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[i] = UNSAFE.getLong(a);
        }
      }
      case BOOL -> {
        for (int i = 0; i < n; i++, a += step) {
          dst[i] = UNSAFE.getByte(a) != 0 ? 1f : 0f;
        }
      }
    }
  }

  static void loadD(Operand o, long off, long stride, int n, double[] dst) {
    if (o.constant) {
      Arrays.fill(dst, 0, n, o.value);
      return;
    }
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.FLOAT64 && stride == 1) {
      UNSAFE.copyMemory(null, a, dst, DOUBLE_BASE, 8L * n);
      return;
    }
    if (stride == 0) {
      Arrays.fill(dst, 0, n, readDouble(t, a));
      return;
    }
    long step = stride * size;
    for (int i = 0; i < n; i++, a += step) {
      dst[i] = readDouble(t, a);
    }
  }

  static void loadL(Operand o, long off, long stride, int n, long[] dst) {
    if (o.constant) {
      Arrays.fill(dst, 0, n, (long) o.value);
      return;
    }
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.INT64 && stride == 1) {
      UNSAFE.copyMemory(null, a, dst, LONG_BASE, 8L * n);
      return;
    }
    if (stride == 0) {
      Arrays.fill(dst, 0, n, readLong(t, a));
      return;
    }
    long step = stride * size;
    for (int i = 0; i < n; i++, a += step) {
      dst[i] = readLong(t, a);
    }
  }

  static void storeF(float[] src, Operand o, long off, long stride, int n) {
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.FLOAT32 && stride == 1) {
      UNSAFE.copyMemory(src, FLOAT_BASE, null, a, 4L * n);
      return;
    }
    long step = stride * size;
    switch (t) {
      case FLOAT32 -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putFloat(a, src[i]);
        }
      }
      case FLOAT64 -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putDouble(a, src[i]);
        }
      }
      case INT32 -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putInt(a, (int) src[i]);
        }
      }
      case INT64 -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putLong(a, (long) src[i]);
        }
      }
      case BOOL -> {
        for (int i = 0; i < n; i++, a += step) {
          UNSAFE.putByte(a, src[i] != 0f ? (byte) 1 : (byte) 0);
        }
      }
    }
  }

  static void storeD(double[] src, Operand o, long off, long stride, int n) {
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.FLOAT64 && stride == 1) {
      UNSAFE.copyMemory(src, DOUBLE_BASE, null, a, 8L * n);
      return;
    }
    long step = stride * size;
    for (int i = 0; i < n; i++, a += step) {
      writeDouble(t, a, src[i]);
    }
  }

  static void storeL(long[] src, Operand o, long off, long stride, int n) {
    DType t = o.dtype;
    long size = t.byteSize();
    long a = o.address + off * size;
    if (t == DType.INT64 && stride == 1) {
      UNSAFE.copyMemory(src, LONG_BASE, null, a, 8L * n);
      return;
    }
    long step = stride * size;
    for (int i = 0; i < n; i++, a += step) {
      writeLong(t, a, src[i]);
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
