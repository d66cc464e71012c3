package org.emberdl.tensor;

import java.util.Arrays;

/** {@code torch.matmul}'s shape rules on top of the backend's batched GEMM. */
final class LinearAlgebra {
  private LinearAlgebra() {}

  static NDArray matmul(NDArray a, NDArray b) {
    if (a.ndim() == 0 || b.ndim() == 0) {
      throw new IllegalArgumentException("matmul needs arrays of at least 1 dim, got 0-d");
    }
    if (a.dtype() != b.dtype() || !a.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException(
          "matmul needs two float32 or two float64 arrays, got " + a.dtype() + " and " + b.dtype());
    }
    boolean vecA = a.ndim() == 1;
    boolean vecB = b.ndim() == 1;
    // A 1-D left operand is a row vector, a 1-D right operand a column vector; the added dim is
    // removed from the result.
    Layout la = vecA ? a.layout().unsqueeze(0) : a.layout();
    Layout lb = vecB ? b.layout().unsqueeze(1) : b.layout();
    int na = la.ndim();
    int nb = lb.ndim();
    int m = la.shape()[na - 2];
    int k = la.shape()[na - 1];
    int n = lb.shape()[nb - 1];
    if (lb.shape()[nb - 2] != k) {
      throw new IllegalArgumentException(
          "matmul shapes "
              + Shape.toString(a.layout().shape())
              + " and "
              + Shape.toString(b.layout().shape())
              + " do not align: "
              + k
              + " != "
              + lb.shape()[nb - 2]);
    }
    int[] batch =
        Shape.broadcast(Arrays.copyOf(la.shape(), na - 2), Arrays.copyOf(lb.shape(), nb - 2));
    int bd = batch.length;
    int[] shapeA = Arrays.copyOf(batch, bd + 2);
    shapeA[bd] = m;
    shapeA[bd + 1] = k;
    int[] shapeB = Arrays.copyOf(batch, bd + 2);
    shapeB[bd] = k;
    shapeB[bd + 1] = n;
    int[] shapeOut = Arrays.copyOf(batch, bd + 2);
    shapeOut[bd] = m;
    shapeOut[bd + 1] = n;
    NDArray out = NDArray.empty(a.dtype(), a.device(), shapeOut);
    NDArray.fillOrClose(
        out,
        () -> {
          try (NDArray ea = a.borrow(la.expand(shapeA));
              NDArray eb = b.borrow(lb.expand(shapeB))) {
            a.backend().matmul(ea, eb, out);
          }
        });
    if (!vecA && !vecB) {
      return out;
    }
    int[] finalShape = new int[bd + 2 - (vecA ? 1 : 0) - (vecB ? 1 : 0)];
    System.arraycopy(batch, 0, finalShape, 0, bd);
    int at = bd;
    if (!vecA) {
      finalShape[at++] = m;
    }
    if (!vecB) {
      finalShape[at] = n;
    }
    try (out) {
      return out.reshape(finalShape);
    }
  }
}
