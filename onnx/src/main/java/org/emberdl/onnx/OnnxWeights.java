package org.emberdl.onnx;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.NDArray;

/** An imported tensor's current value written back in the data type the file gave it. */
final class OnnxWeights {
  private OnnxWeights() {}

  /**
   * {@code value} as a TensorProto named and typed as {@code original}, data in raw_data.
   *
   * @throws IllegalStateException for a type Ember widened on import (float16, bfloat16)
   */
  static TensorProto encode(TensorProto original, NDArray value) {
    int type = original.getDataType();
    int size = OnnxTypes.rawSize(type);
    long n = value.numel();
    ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(n * size)).order(ByteOrder.LITTLE_ENDIAN);
    switch (type) {
      case OnnxTypes.FLOAT -> b.asFloatBuffer().put(value.toFloatArray());
      case OnnxTypes.DOUBLE -> b.asDoubleBuffer().put(value.toDoubleArray());
      case OnnxTypes.INT64 -> b.asLongBuffer().put(value.toLongArray());
      case OnnxTypes.INT32 -> b.asIntBuffer().put(value.toIntArray());
      case OnnxTypes.UINT32 -> {
        for (long v : value.toLongArray()) {
          b.putInt((int) v);
        }
      }
      case OnnxTypes.INT16, OnnxTypes.UINT16 -> {
        for (int v : value.toIntArray()) {
          b.putShort((short) v);
        }
      }
      case OnnxTypes.INT8, OnnxTypes.UINT8 -> {
        for (int v : value.toIntArray()) {
          b.put((byte) v);
        }
      }
      case OnnxTypes.BOOL -> {
        for (boolean v : value.toBooleanArray()) {
          b.put((byte) (v ? 1 : 0));
        }
      }
      default ->
          throw new IllegalStateException(
              "initializer '"
                  + original.getName()
                  + "' was "
                  + OnnxTypes.name(type)
                  + " in the imported file; Ember holds it as float32 and does not write it back as "
                  + OnnxTypes.name(type));
    }
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setName(original.getName())
            .setDataType(type)
            .setRawData(ByteString.copyFrom(b.array()));
    for (int d : value.shape()) {
      t.addDims(d);
    }
    return t.build();
  }
}
