package org.emberdl.onnx;

import org.emberdl.tensor.DType;

/** ONNX's TensorProto.DataType codes and the Ember dtype each is held in. */
final class OnnxTypes {
  private OnnxTypes() {}

  static final int FLOAT = 1;
  static final int UINT8 = 2;
  static final int INT8 = 3;
  static final int UINT16 = 4;
  static final int INT16 = 5;
  static final int INT32 = 6;
  static final int INT64 = 7;
  static final int STRING = 8;
  static final int BOOL = 9;
  static final int FLOAT16 = 10;
  static final int DOUBLE = 11;
  static final int UINT32 = 12;
  static final int UINT64 = 13;
  static final int COMPLEX64 = 14;
  static final int COMPLEX128 = 15;
  static final int BFLOAT16 = 16;

  private static final String[] NAMES = {
    "UNDEFINED",
    "FLOAT",
    "UINT8",
    "INT8",
    "UINT16",
    "INT16",
    "INT32",
    "INT64",
    "STRING",
    "BOOL",
    "FLOAT16",
    "DOUBLE",
    "UINT32",
    "UINT64",
    "COMPLEX64",
    "COMPLEX128",
    "BFLOAT16"
  };

  static String name(int code) {
    return code >= 0 && code < NAMES.length ? NAMES[code] : "type " + code;
  }

  /**
   * The dtype a tensor of this type is decoded into (float16 and bfloat16 widen to float32, the
   * small integers to int32, uint32 to int64), or null when Ember cannot hold it.
   */
  static DType storage(int code) {
    return switch (code) {
      case FLOAT, FLOAT16, BFLOAT16 -> DType.FLOAT32;
      case DOUBLE -> DType.FLOAT64;
      case INT8, UINT8, INT16, UINT16, INT32 -> DType.INT32;
      case INT64, UINT32 -> DType.INT64;
      case BOOL -> DType.BOOL;
      default -> null;
    };
  }

  /** The dtype Cast produces for this target type, or null when Ember has no such dtype. */
  static DType castTarget(int code) {
    return switch (code) {
      case FLOAT -> DType.FLOAT32;
      case DOUBLE -> DType.FLOAT64;
      case INT32 -> DType.INT32;
      case INT64 -> DType.INT64;
      case BOOL -> DType.BOOL;
      default -> null;
    };
  }

  /** Bytes per element in raw_data, or 0 for types without a fixed size. */
  static int rawSize(int code) {
    return switch (code) {
      case UINT8, INT8, BOOL -> 1;
      case UINT16, INT16, FLOAT16, BFLOAT16 -> 2;
      case FLOAT, INT32, UINT32 -> 4;
      case INT64, DOUBLE, UINT64 -> 8;
      default -> 0;
    };
  }
}
