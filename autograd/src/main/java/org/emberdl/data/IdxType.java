package org.emberdl.data;

import org.emberdl.tensor.DType;

/**
 * The element types of the IDX format, by the type code in the third byte of the magic number, and
 * the Ember dtype each is read as by {@link IdxReader#read}. Ember has no 8- or 16-bit integers, so
 * every integer type widens (exactly) to int32.
 */
public enum IdxType {
  /** {@code 0x08}: unsigned byte, read as int32 0..255. */
  UBYTE(0x08, 1, DType.INT32),
  /** {@code 0x09}: signed byte, read as int32 -128..127. */
  BYTE(0x09, 1, DType.INT32),
  /** {@code 0x0B}: big-endian signed 16-bit integer, read as int32. */
  SHORT(0x0B, 2, DType.INT32),
  /** {@code 0x0C}: big-endian signed 32-bit integer. */
  INT(0x0C, 4, DType.INT32),
  /** {@code 0x0D}: big-endian IEEE 754 single. */
  FLOAT(0x0D, 4, DType.FLOAT32),
  /** {@code 0x0E}: big-endian IEEE 754 double. */
  DOUBLE(0x0E, 8, DType.FLOAT64);

  private final int code;
  private final int byteSize;
  private final DType dtype;

  IdxType(int code, int byteSize, DType dtype) {
    this.code = code;
    this.byteSize = byteSize;
    this.dtype = dtype;
  }

  /** The type code of the magic number. */
  public int code() {
    return code;
  }

  /** Bytes per element in the file. */
  public int byteSize() {
    return byteSize;
  }

  /** The dtype {@link IdxReader#read} returns for this type. */
  public DType dtype() {
    return dtype;
  }

  /** True for the four integer types. */
  public boolean isInteger() {
    return this != FLOAT && this != DOUBLE;
  }

  /** The type of {@code code}, or {@code null} when the format defines none. */
  public static IdxType fromCode(int code) {
    for (IdxType t : values()) {
      if (t.code == code) {
        return t;
      }
    }
    return null;
  }
}
