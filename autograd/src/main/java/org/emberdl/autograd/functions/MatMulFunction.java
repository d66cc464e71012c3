package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/** Matrix product: {@code dA = G B^T}, {@code dB = A^T G}, batch broadcasting undone. */
public final class MatMulFunction extends Function {
  private final NDArray a;
  private final NDArray b;

  private MatMulFunction(Tensor ta, Tensor tb) {
    super("matmul", ta, tb);
    this.a = save(ta.data());
    this.b = save(tb.data());
  }

  public static Tensor apply(Tensor a, Tensor b) {
    NDArray r = a.data().matmul(b.data());
    return isNeeded(a, b) ? new MatMulFunction(a, b).output(r) : Tensor.of(r);
  }

  /**
   * True when {@code m}'s last two dims are stored column-major (a transposed view, such as the
   * {@code weight.t()} of a Linear layer).
   */
  private static boolean columnMajor(NDArray m) {
    long[] st = m.layout().strides();
    int nd = st.length;
    return m.shape(-2) > 1 && m.shape(-1) > 1 && st[nd - 2] == 1 && st[nd - 1] != 1;
  }

  /**
   * {@code op(x) @ op(y)}, with op a transpose where asked. With {@code transposedResult} it
   * computes {@code (op(y)^T @ op(x)^T)^T} instead: the same values, laid out column-major, so that
   * the gradient of a transposed view comes out contiguous for the array underneath it (as
   * PyTorch's mm_mat2_backward arranges) and no transposing copy is ever made.
   */
  private static NDArray product(
      NDArray x, boolean tx, NDArray y, boolean ty, boolean transposedResult) {
    if (!transposedResult) {
      try (NDArray ox = tx ? x.transpose(-1, -2) : x.share();
          NDArray oy = ty ? y.transpose(-1, -2) : y.share()) {
        return ox.matmul(oy);
      }
    }
    try (NDArray yt = ty ? y.share() : y.transpose(-1, -2);
        NDArray xt = tx ? x.share() : x.transpose(-1, -2);
        NDArray r = yt.matmul(xt)) {
      return r.transpose(-1, -2);
    }
  }

  @Override
  protected NDArray[] backward(NDArray grad) {
    boolean vecA = a.ndim() == 1;
    boolean vecB = b.ndim() == 1;
    // Work on the 2-D (or batched) forms, as the forward pass did.
    try (NDArray a2 = vecA ? a.unsqueeze(0) : a.share();
        NDArray b2 = vecB ? b.unsqueeze(1) : b.share();
        NDArray g1 = vecA ? grad.unsqueeze(vecB ? 0 : -2) : grad.share();
        NDArray g2 = vecB ? g1.unsqueeze(-1) : g1.share()) {
      NDArray ga = null;
      NDArray gb = null;
      if (needsGrad(0)) {
        // dA = G B^T, produced in A's own memory order (see columnMajor)
        try (NDArray full = product(g2, false, b2, true, columnMajor(a2));
            NDArray summed = Grads.sumTo(full, a2.shape())) {
          ga = summed.reshape(a.shape());
        }
      }
      if (needsGrad(1)) {
        if (b2.ndim() == 2 && a2.ndim() > 2) {
          // B is shared by every batch entry (a Linear on (N, T, F)): dB = sum_i A_i^T G_i is one
          // GEMM with the batch folded into the rows, not a batched product summed over the batch
          try (NDArray af = a2.reshape(-1, a2.shape(-1));
              NDArray gf = g2.reshape(-1, g2.shape(-1));
              NDArray full = product(af, true, gf, false, columnMajor(b2))) {
            gb = full.reshape(b.shape());
          }
        } else {
          // dB = A^T G
          try (NDArray full = product(a2, true, g2, false, columnMajor(b2));
              NDArray summed = Grads.sumTo(full, b2.shape())) {
            gb = summed.reshape(b.shape());
          }
        }
      }
      return new NDArray[] {ga, gb};
    }
  }
}
