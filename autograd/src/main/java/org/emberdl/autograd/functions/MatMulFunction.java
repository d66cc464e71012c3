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
        try (NDArray bt = b2.transpose(-1, -2);
            NDArray full = g2.matmul(bt);
            NDArray summed = Grads.sumTo(full, a2.shape())) {
          ga = summed.reshape(a.shape());
        }
      }
      if (needsGrad(1)) {
        try (NDArray at = a2.transpose(-1, -2);
            NDArray full = at.matmul(g2);
            NDArray summed = Grads.sumTo(full, b2.shape())) {
          gb = summed.reshape(b.shape());
        }
      }
      return new NDArray[] {ga, gb};
    }
  }
}
