package org.emberdl.onnx.export;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/** Ember arrays and Java arrays as ONNX {@link TensorProto}s (raw little-endian data). */
public final class OnnxTensors {
  private OnnxTensors() {}

  /** The ONNX element type ({@code TensorProto.DataType} number) of an Ember dtype. */
  public static int elemType(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> TensorProto.DataType.FLOAT_VALUE;
      case FLOAT64 -> TensorProto.DataType.DOUBLE_VALUE;
      case INT32 -> TensorProto.DataType.INT32_VALUE;
      case INT64 -> TensorProto.DataType.INT64_VALUE;
      case BOOL -> TensorProto.DataType.BOOL_VALUE;
    };
  }

  /**
   * {@code data}'s values (copied to the heap, in row-major order) as a tensor named {@code name}.
   */
  public static TensorProto of(String name, NDArray data) {
    TensorProto.Builder b = TensorProto.newBuilder().setName(name);
    for (int d : data.shape()) {
      b.addDims(d);
    }
    b.setDataType(elemType(data.dtype()));
    ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(data.numel() * data.dtype().byteSize()));
    buf.order(ByteOrder.LITTLE_ENDIAN);
    switch (data.dtype()) {
      case FLOAT32 -> buf.asFloatBuffer().put(data.toFloatArray());
      case FLOAT64 -> buf.asDoubleBuffer().put(data.toDoubleArray());
      case INT32 -> buf.asIntBuffer().put(data.toIntArray());
      case INT64 -> buf.asLongBuffer().put(data.toLongArray());
      case BOOL -> {
        for (boolean v : data.toBooleanArray()) {
          buf.put((byte) (v ? 1 : 0));
        }
      }
    }
    return b.setRawData(ByteString.copyFrom(buf.array())).build();
  }

  /** A float32 tensor of shape {@code dims} (none: a scalar), unnamed. */
  public static TensorProto.Builder floats(float[] values, long... dims) {
    ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(values);
    return raw(TensorProto.DataType.FLOAT_VALUE, buf, dims);
  }

  /** An int64 tensor of shape {@code dims} (none: a scalar), unnamed. */
  public static TensorProto.Builder longs(long[] values, long... dims) {
    ByteBuffer buf = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    buf.asLongBuffer().put(values);
    return raw(TensorProto.DataType.INT64_VALUE, buf, dims);
  }

  private static TensorProto.Builder raw(int type, ByteBuffer buf, long... dims) {
    TensorProto.Builder b = TensorProto.newBuilder().setDataType(type);
    for (long d : dims) {
      b.addDims(d);
    }
    return b.setRawData(ByteString.copyFrom(buf.array()));
  }
}
