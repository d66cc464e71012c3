package org.emberdl.tensor.cpu;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * One operand of an elementwise loop: a strided view of host memory, or a scalar constant. Strides
 * are in elements and already broadcast to the loop's shape.
 */
final class Operand {
  final long address; // byte address of element [0, ..., 0]
  final DType dtype;
  final long[] strides;
  final boolean constant;
  final double value;

  private Operand(long address, DType dtype, long[] strides, boolean constant, double value) {
    this.address = address;
    this.dtype = dtype;
    this.strides = strides;
    this.constant = constant;
    this.value = value;
  }

  static Operand of(NDArray a) {
    return new Operand(
        a.storage().address() + a.layout().offset() * a.dtype().byteSize(),
        a.dtype(),
        a.layout().strides(),
        false,
        0);
  }

  /** A strided view of host memory at a byte address (strides in elements). */
  static Operand at(long address, DType dtype, long[] strides) {
    return new Operand(address, dtype, strides, false, 0);
  }

  static Operand constant(double value, DType dtype, int ndim) {
    return new Operand(0, dtype, new long[ndim], true, value);
  }
}
