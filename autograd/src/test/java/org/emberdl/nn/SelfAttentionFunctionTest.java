package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.autograd.functions.MaskedSoftmaxFunction;
import org.emberdl.autograd.functions.SelfAttentionFunction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/**
 * The fused self-attention op: finite differences in float64 (with and without a mask that forbids
 * entries), and the same bits, values and gradient, as the unfused ops it replaces (narrow, reshape
 * and permute per projection, two batched products, the masked softmax).
 */
class SelfAttentionFunctionTest {
  private static final int N = 2;
  private static final int T = 4;
  private static final int E = 6;
  private static final int HEADS = 2;

  /** Causal (T, T) mask plus a bias, broadcast over batch and heads. */
  private static NDArray mask(DType dt) {
    double ninf = Double.NEGATIVE_INFINITY;
    return NDArray.of(
            new double[] {0, ninf, ninf, ninf, 0.5, 0, ninf, ninf, 0, -1, 0, ninf, 0, 0, 2, 0},
            T,
            T)
        .cast(dt);
  }

  /** The unfused composition, as MultiheadAttention recorded it before. */
  private static Tensor unfused(Tensor qkv, NDArray mask) {
    int d = E / HEADS;
    Tensor[] h = new Tensor[3];
    for (int i = 0; i < 3; i++) {
      h[i] = qkv.narrow(2, i * E, E).reshape(N, T, HEADS, d).permute(0, 2, 1, 3);
    }
    Tensor probs =
        MaskedSoftmaxFunction.apply(h[0].matmul(h[1].transpose(2, 3)), 1 / Math.sqrt(d), mask);
    return probs.matmul(h[2]).permute(0, 2, 1, 3).reshape(N, T, E);
  }

  @Test
  void gradCheckInFloat64() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(5), DType.FLOAT64, N, T, 3 * E);
      double scale = 1 / Math.sqrt(E / HEADS);
      GradCheck.defaults().check(t -> SelfAttentionFunction.apply(t[0], HEADS, scale, null), x);
      NDArray m = mask(DType.FLOAT64);
      GradCheck.defaults().check(t -> SelfAttentionFunction.apply(t[0], HEADS, scale, m), x);
      // packed projections whose last dim is not dense (read through copies, not views)
      NDArray xt = NDArray.randn(new Generator(8), DType.FLOAT64, N, 3 * E, T);
      GradCheck.defaults()
          .check(t -> SelfAttentionFunction.apply(t[0].transpose(1, 2), HEADS, scale, m), xt);
    }
  }

  @Test
  void sameBitsAsTheUnfusedOps() {
    for (boolean masked : new boolean[] {false, true}) {
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray x = NDArray.randn(new Generator(6), DType.FLOAT32, N, T, 3 * E);
        NDArray g = NDArray.randn(new Generator(7), DType.FLOAT32, N, T, E);
        NDArray m = masked ? mask(DType.FLOAT32) : null;
        Tensor a = Tensor.of(x.copy()).requiresGrad(true);
        Tensor fused = SelfAttentionFunction.apply(a, HEADS, 1 / Math.sqrt(E / HEADS), m);
        fused.backward(g);
        Tensor b = Tensor.of(x.copy()).requiresGrad(true);
        Tensor plain = unfused(b, m);
        plain.backward(g);
        assertArrayEquals(plain.data().toFloatArray(), fused.data().toFloatArray());
        assertArrayEquals(b.grad().toFloatArray(), a.grad().toFloatArray());
        for (float v : a.grad().toFloatArray()) {
          assertTrue(Float.isFinite(v));
        }
      }
    }
  }

  @Test
  void rejectsAnInputThatIsNotPackedProjections() {
    try (MemoryScope scope = MemoryScope.open()) {
      Tensor bad = Tensor.of(NDArray.zeros(DType.FLOAT32, N, T, 10));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> SelfAttentionFunction.apply(bad, HEADS, 1, null));
      assertTrue(
          e.getMessage()
              .equals(
                  "selfAttention needs qkv shaped (N, T, 3E) with E divisible by heads=2, got"
                      + " [2, 4, 10]"),
          e.getMessage());
    }
  }
}
