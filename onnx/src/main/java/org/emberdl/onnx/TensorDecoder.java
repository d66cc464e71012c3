package org.emberdl.onnx;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.emberdl.onnx.proto.StringStringEntryProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.NDArray;

/**
 * TensorProto -> NDArray. The declared shape is checked against the data before anything is
 * allocated: a tensor never takes more memory than the bytes in the file (or its external data
 * file) that hold its values. External data must lie inside the model's directory.
 */
final class TensorDecoder {
  private final Path baseDir;

  /**
   * @param baseDir the model file's directory, against which external data locations resolve; null
   *     when the model came from bytes (then external data is refused)
   */
  TensorDecoder(Path baseDir) {
    this.baseDir = baseDir;
  }

  /**
   * Decodes {@code t}.
   *
   * @param what how messages name the tensor, e.g. {@code initializer 'fc1.weight'}
   */
  NDArray decode(TensorProto t, String what) throws OnnxFormatException {
    int type = t.getDataType();
    if (OnnxTypes.storage(type) == null) {
      throw new OnnxFormatException(
          what
              + " has data type "
              + OnnxTypes.name(type)
              + ", which Ember cannot hold (it reads"
              + " FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8/16/32/64, UINT8/16/32 and BOOL)");
    }
    if (t.hasSegment()) {
      throw new OnnxFormatException(what + " is segmented, which is not supported");
    }
    int[] shape = shape(t, what);
    long numel = numel(t, what);
    int elem = OnnxTypes.rawSize(type);
    ByteBuffer raw = null;
    if (t.getDataLocationValue() == TensorProto.DataLocation.EXTERNAL_VALUE) {
      raw = readExternal(t, what, numel * elem);
    } else if (t.getDataLocationValue() != 0) {
      throw new OnnxFormatException(
          what + " has unknown data_location " + t.getDataLocationValue());
    } else if (!t.getRawData().isEmpty()) {
      ByteString bytes = t.getRawData();
      if (bytes.size() != numel * elem) {
        throw new OnnxFormatException(
            what
                + " declares shape "
                + Arrays.toString(shape)
                + " of "
                + OnnxTypes.name(type)
                + " ("
                + numel
                + " elements, "
                + numel * elem
                + " bytes) but its raw_data holds "
                + bytes.size()
                + " bytes");
      }
      raw = bytes.asReadOnlyByteBuffer();
    }
    if (raw != null) {
      return fromRaw(raw.order(ByteOrder.LITTLE_ENDIAN), type, (int) numel, shape);
    }
    return fromTyped(t, type, (int) numel, shape, what);
  }

  private static int[] shape(TensorProto t, String what) throws OnnxFormatException {
    int[] shape = new int[t.getDimsCount()];
    for (int i = 0; i < shape.length; i++) {
      long d = t.getDims(i);
      if (d < 0 || d > Integer.MAX_VALUE) {
        throw new OnnxFormatException(
            what
                + " has dim "
                + d
                + " in shape "
                + t.getDimsList()
                + " (dims must be 0.."
                + Integer.MAX_VALUE
                + ")");
      }
      shape[i] = (int) d;
    }
    return shape;
  }

  /** The element count, refused past 2^31 - 1 (more than any protobuf or Ember array holds). */
  private static long numel(TensorProto t, String what) throws OnnxFormatException {
    long n = 1;
    for (long d : t.getDimsList()) {
      if (d != 0 && n > Integer.MAX_VALUE / d) {
        throw new OnnxFormatException(
            what
                + " declares shape "
                + t.getDimsList()
                + ", more than "
                + Integer.MAX_VALUE
                + " elements");
      }
      n *= d;
    }
    return n;
  }

  private static NDArray fromRaw(ByteBuffer b, int type, int n, int[] shape) {
    NDArray a;
    switch (type) {
      case OnnxTypes.FLOAT -> {
        float[] v = new float[n];
        b.asFloatBuffer().get(v);
        a = NDArray.of(v);
      }
      case OnnxTypes.FLOAT16, OnnxTypes.BFLOAT16 -> {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = half(b.getShort(2 * i) & 0xffff, type);
        }
        a = NDArray.of(v);
      }
      case OnnxTypes.DOUBLE -> {
        double[] v = new double[n];
        b.asDoubleBuffer().get(v);
        a = NDArray.of(v);
      }
      case OnnxTypes.INT32 -> {
        int[] v = new int[n];
        b.asIntBuffer().get(v);
        a = NDArray.of(v);
      }
      case OnnxTypes.INT8, OnnxTypes.UINT8, OnnxTypes.INT16, OnnxTypes.UINT16 -> {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          v[i] =
              switch (type) {
                case OnnxTypes.INT8 -> b.get(i);
                case OnnxTypes.UINT8 -> b.get(i) & 0xff;
                case OnnxTypes.INT16 -> b.getShort(2 * i);
                default -> b.getShort(2 * i) & 0xffff;
              };
        }
        a = NDArray.of(v);
      }
      case OnnxTypes.INT64 -> {
        long[] v = new long[n];
        b.asLongBuffer().get(v);
        a = NDArray.of(v);
      }
      case OnnxTypes.UINT32 -> {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
          v[i] = b.getInt(4 * i) & 0xffffffffL;
        }
        a = NDArray.of(v);
      }
      case OnnxTypes.BOOL -> {
        boolean[] v = new boolean[n];
        for (int i = 0; i < n; i++) {
          v[i] = b.get(i) != 0;
        }
        a = NDArray.of(v);
      }
      default -> throw new IllegalStateException("unreachable: type " + type);
    }
    return shaped(a, shape);
  }

  /** The typed repeated field of the type; its length must be the element count. */
  private static NDArray fromTyped(TensorProto t, int type, int n, int[] shape, String what)
      throws OnnxFormatException {
    NDArray a;
    switch (type) {
      case OnnxTypes.FLOAT -> {
        count(what, "float_data", t.getFloatDataCount(), n, t);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getFloatData(i);
        }
        a = NDArray.of(v);
      }
      case OnnxTypes.DOUBLE -> {
        count(what, "double_data", t.getDoubleDataCount(), n, t);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getDoubleData(i);
        }
        a = NDArray.of(v);
      }
      case OnnxTypes.INT64 -> {
        count(what, "int64_data", t.getInt64DataCount(), n, t);
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getInt64Data(i);
        }
        a = NDArray.of(v);
      }
      case OnnxTypes.UINT32 -> {
        count(what, "uint64_data", t.getUint64DataCount(), n, t);
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getUint64Data(i);
        }
        a = NDArray.of(v);
      }
      case OnnxTypes.FLOAT16, OnnxTypes.BFLOAT16 -> {
        count(what, "int32_data", t.getInt32DataCount(), n, t);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = half(t.getInt32Data(i) & 0xffff, type);
        }
        a = NDArray.of(v);
      }
      case OnnxTypes.BOOL -> {
        count(what, "int32_data", t.getInt32DataCount(), n, t);
        boolean[] v = new boolean[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getInt32Data(i) != 0;
        }
        a = NDArray.of(v);
      }
      default -> { // INT32 and the small integers
        count(what, "int32_data", t.getInt32DataCount(), n, t);
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getInt32Data(i);
        }
        a = NDArray.of(v);
      }
    }
    return shaped(a, shape);
  }

  private static void count(String what, String field, int have, int n, TensorProto t)
      throws OnnxFormatException {
    if (have != n) {
      throw new OnnxFormatException(
          what
              + " declares shape "
              + t.getDimsList()
              + " of "
              + OnnxTypes.name(t.getDataType())
              + " ("
              + n
              + " elements) but holds "
              + have
              + " values in "
              + field
              + (have == 0 ? " (and no raw_data)" : ""));
    }
  }

  private static NDArray shaped(NDArray flat, int[] shape) {
    if (shape.length == 1) {
      return flat;
    }
    try (flat) {
      return flat.reshape(shape);
    }
  }

  /** IEEE half (FLOAT16) or bfloat16 bits to float. */
  static float half(int bits, int type) {
    if (type == OnnxTypes.BFLOAT16) {
      return Float.intBitsToFloat(bits << 16);
    }
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      float v = mant * 0x1p-24f; // subnormal: mant * 2^-24
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /**
   * Reads {@code bytes} bytes of external data. The location must be a relative path that stays
   * inside the model's directory (no {@code ..}, no absolute path, no link leading out).
   */
  private ByteBuffer readExternal(TensorProto t, String what, long bytes)
      throws OnnxFormatException {
    String location = null;
    long offset = 0;
    long length = -1;
    for (StringStringEntryProto e : t.getExternalDataList()) {
      try {
        switch (e.getKey()) {
          case "location" -> location = e.getValue();
          case "offset" -> offset = Long.parseLong(e.getValue());
          case "length" -> length = Long.parseLong(e.getValue());
          default -> {} // checksum and others: not needed to read
        }
      } catch (NumberFormatException ex) {
        throw new OnnxFormatException(
            what + ": external_data " + e.getKey() + " '" + e.getValue() + "' is not a number");
      }
    }
    if (location == null || location.isEmpty()) {
      throw new OnnxFormatException(what + " is stored externally but names no location");
    }
    if (baseDir == null) {
      throw new OnnxFormatException(
          what
              + " is stored in external file '"
              + location
              + "', which needs the model's"
              + " directory: load the model with Onnx.load(Path)");
    }
    Path rel = Path.of(location);
    Path file = baseDir.resolve(rel).normalize();
    if (rel.isAbsolute() || !file.startsWith(baseDir.normalize()) || location.contains("..")) {
      throw new OnnxFormatException(
          what
              + ": external data location '"
              + location
              + "' leaves the model's directory "
              + baseDir
              + " (it must be a relative path inside it)");
    }
    if (bytes > Onnx.MAX_MODEL_BYTES) {
      throw new OnnxFormatException(
          what
              + " declares "
              + bytes
              + " bytes of external data; Ember reads tensors of at most "
              + Onnx.MAX_MODEL_BYTES
              + " bytes");
    }
    if (offset < 0 || (length >= 0 && length != bytes)) {
      throw new OnnxFormatException(
          what
              + ": external data in '"
              + location
              + "' has offset "
              + offset
              + " and length "
              + length
              + ", the shape "
              + t.getDimsList()
              + " needs "
              + bytes
              + " bytes");
    }
    try {
      Path real = file.toRealPath();
      if (!real.startsWith(baseDir.toRealPath())) {
        throw new OnnxFormatException(
            what + ": external data file '" + location + "' links out of the model's directory");
      }
      try (FileChannel ch = FileChannel.open(real, StandardOpenOption.READ)) {
        long size = ch.size();
        if (offset + bytes > size) {
          throw new OnnxFormatException(
              what
                  + " needs "
                  + bytes
                  + " bytes at offset "
                  + offset
                  + " of external file '"
                  + location
                  + "', which has "
                  + size
                  + " bytes");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) bytes);
        while (buf.hasRemaining()) {
          if (ch.read(buf, offset + buf.position()) < 0) {
            throw new OnnxFormatException(what + ": external file '" + location + "' ended early");
          }
        }
        return buf.flip();
      }
    } catch (NoSuchFileException e) {
      throw new OnnxFormatException(
          what
              + " is stored in external file '"
              + location
              + "', which does not exist (looked"
              + " for "
              + file
              + ")",
          e);
    } catch (OnnxFormatException e) {
      throw e;
    } catch (IOException e) {
      throw new OnnxFormatException(
          what + ": cannot read external file '" + location + "': " + e.getMessage(), e);
    }
  }
}
