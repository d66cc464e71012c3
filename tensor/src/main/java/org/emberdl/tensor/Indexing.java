package org.emberdl.tensor;

/** Argument checks and result shapes of the indexing ops; kernels live in the backend. */
final class Indexing {
  private Indexing() {}

  private static void requireIndex(NDArray index, String op) {
    if (index.dtype() != DType.INT64 && index.dtype() != DType.INT32) {
      throw new IllegalArgumentException(
          op + " needs an int64 or int32 index, got " + index.dtype());
    }
  }

  static NDArray indexSelect(NDArray x, int dim, NDArray index) {
    requireIndex(index, "indexSelect");
    if (index.ndim() > 1) {
      throw new IllegalArgumentException(
          "indexSelect needs a 1-D index, got shape " + Shape.toString(index.shape()));
    }
    if (x.ndim() == 0) {
      throw new IllegalArgumentException("indexSelect needs an array of at least 1 dim");
    }
    int d = Shape.normalizeDim(dim, x.ndim());
    int[] shape = x.shape();
    shape[d] = (int) index.numel();
    NDArray out = NDArray.empty(x.dtype(), x.device(), shape);
    return NDArray.fillOrClose(out, () -> x.backend().indexSelect(x, d, index, out));
  }

  private static void checkSameRank(NDArray x, NDArray index, String op) {
    if (index.ndim() != x.ndim()) {
      throw new IllegalArgumentException(
          op + ": index has " + index.ndim() + " dims, expected " + x.ndim());
    }
  }

  static NDArray gather(NDArray x, int dim, NDArray index) {
    requireIndex(index, "gather");
    checkSameRank(x, index, "gather");
    int d = Shape.normalizeDim(dim, x.ndim());
    for (int k = 0; k < x.ndim(); k++) {
      if (k != d && index.shape(k) > x.shape(k)) {
        throw new IllegalArgumentException(
            "gather: index size "
                + index.shape(k)
                + " at dim "
                + k
                + " exceeds the input's "
                + x.shape(k));
      }
    }
    NDArray out = NDArray.empty(x.dtype(), x.device(), index.shape());
    return NDArray.fillOrClose(out, () -> x.backend().gather(x, d, index, out));
  }

  static void scatterAddInPlace(NDArray target, int dim, NDArray index, NDArray src) {
    requireIndex(index, "scatterAdd");
    checkSameRank(target, index, "scatterAdd");
    checkSameRank(src, index, "scatterAdd");
    int d = Shape.normalizeDim(dim, target.ndim());
    for (int k = 0; k < target.ndim(); k++) {
      if (index.shape(k) > src.shape(k) || (k != d && index.shape(k) > target.shape(k))) {
        throw new IllegalArgumentException(
            "scatterAdd: index shape "
                + Shape.toString(index.shape())
                + " exceeds src "
                + Shape.toString(src.shape())
                + " or target "
                + Shape.toString(target.shape()));
      }
    }
    // Only the index's extent of src takes part, as in torch.scatter_add.
    Layout srcPart = new Layout(index.shape(), src.layout().strides(), src.layout().offset());
    try (NDArray s = src.borrow(srcPart)) {
      target.backend().scatterAdd(target, d, index, s);
    }
  }

  static NDArray oneHot(NDArray labels, int numClasses, DType dtype) {
    requireIndex(labels, "oneHot");
    if (numClasses <= 0) {
      throw new IllegalArgumentException("oneHot needs numClasses > 0, got " + numClasses);
    }
    int nd = labels.ndim();
    int[] shape = java.util.Arrays.copyOf(labels.shape(), nd + 1);
    shape[nd] = numClasses;
    NDArray out = NDArray.zeros(dtype, labels.device(), shape);
    return NDArray.fillOrClose(
        out,
        () -> {
          try (NDArray idx = labels.unsqueeze(nd);
              NDArray one = NDArray.full(dtype, labels.device(), 1);
              NDArray ones = one.expand(idx.shape())) {
            out.scatterAddInPlace(nd, idx, ones);
          }
        });
  }
}
