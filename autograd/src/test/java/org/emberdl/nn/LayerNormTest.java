package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f32;
import static org.emberdl.nn.NnTesting.state;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class LayerNormTest {
  private static final double EPS = 1e-5;

  @Test
  void normalizesEachRowByHand() {
    try (LayerNorm ln = new LayerNorm(4);
        MemoryScope s = MemoryScope.open()) {
      // row 0: mean 2.5, biased var 1.25; row 1 is constant: var 0, so it maps to 0
      Tensor y = ln.forward(f32(d(1, 2, 3, 4, 2, 2, 2, 2), 2, 4));
      double k = 1 / Math.sqrt(1.25 + EPS);
      assertClose(d(-1.5 * k, -0.5 * k, 0.5 * k, 1.5 * k, 0, 0, 0, 0), y.data(), 1e-6);
      // the same in eval mode
      ln.eval();
      assertClose(
          y.data().toDoubleArray(), ln.forward(f32(d(1, 2, 3, 4, 2, 2, 2, 2), 2, 4)).data(), 0);
    }
  }

  @Test
  void affineParametersApplyPerElement() {
    try (LayerNorm ln = new LayerNorm(2, 2);
        MemoryScope s = MemoryScope.open()) {
      assertEquals(List.of("weight", "bias"), List.copyOf(ln.namedParameters().keySet()));
      assertArrayEquals(new int[] {2, 2}, ln.weight().shape());
      assertClose(d(1, 1, 1, 1), ln.weight().data(), 0);
      assertClose(d(0, 0, 0, 0), ln.bias().data(), 0);
      ln.loadStateDict(
          state(
              "weight", NDArray.of(new float[] {1, 2, 3, 4}, 2, 2),
              "bias", NDArray.of(new float[] {0, 0, 0, 10}, 2, 2)),
          true);
      // one sample (1, 2, 2) = [[1, 2], [3, 4]]: normalized over both dims as above
      Tensor y = ln.forward(f32(d(1, 2, 3, 4), 1, 2, 2));
      double k = 1 / Math.sqrt(1.25 + EPS);
      assertClose(d(-1.5 * k, -1 * k, 1.5 * k, 6 * k + 10), y.data(), 1e-6);
      assertEquals("LayerNorm((2, 2), eps=1e-05, elementwise_affine=True)", ln.toString());
    }
  }

  @Test
  void withoutAffineThereAreNoParameters() {
    try (LayerNorm ln = new LayerNorm(new int[] {3}, 1e-5, false, true, DType.FLOAT32)) {
      assertTrue(ln.namedParameters().isEmpty());
      assertEquals("LayerNorm((3,), eps=1e-05, elementwise_affine=False)", ln.toString());
    }
    try (LayerNorm ln = new LayerNorm(new int[] {3}, 1e-5, true, false, DType.FLOAT32)) {
      assertEquals(List.of("weight"), List.copyOf(ln.namedParameters().keySet()));
    }
  }

  @Test
  void trailingShapeMustMatch() {
    try (LayerNorm ln = new LayerNorm(4);
        MemoryScope s = MemoryScope.open()) {
      assertThrows(
          IllegalArgumentException.class,
          () -> ln.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 4, 3))));
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    try (LayerNorm ln = new LayerNorm(new int[] {3, 4}, 1e-5, true, true, DType.FLOAT64);
        MemoryScope s = MemoryScope.open()) {
      Generator g = new Generator(2);
      ln.loadStateDict(
          state(
              "weight", NDArray.uniform(g, DType.FLOAT64, 0.5, 2, 3, 4),
              "bias", NDArray.randn(g, DType.FLOAT64, 3, 4)),
          true);
      NDArray x = NDArray.randn(g, DType.FLOAT64, 2, 3, 4);
      NnTesting.checkInputGradient(ln, x);
      NnTesting.checkParameterGradients(ln, x);
      GradCheck.defaults()
          .check(
              t -> LayerNorm.layerNorm(t[0], new int[] {3, 4}, t[1], t[2], 1e-5),
              x,
              ln.weight().data(),
              ln.bias().data());
    }
  }

  @Test
  void recordsOneNodeAndGivesParameterGradientsForAFrozenInput() {
    try (LayerNorm ln = new LayerNorm(new int[] {3}, 1e-5, true, true, DType.FLOAT64);
        MemoryScope s = MemoryScope.open()) {
      // x = (1, 2, 4) needs no gradient: mean 7/3, biased var 14/9
      Tensor y = ln.forward(Tensor.of(NDArray.of(new double[] {1, 2, 4}, 1, 3)));
      assertEquals("layerNorm", y.gradFn().name());
      Tensor loss = y.mul(Tensor.of(NDArray.of(new double[] {1, 3, -2}, 1, 3))).sum();
      loss.backward();
      double inv = 1 / Math.sqrt(14.0 / 9 + 1e-5);
      double[] xhat = {(1 - 7.0 / 3) * inv, (2 - 7.0 / 3) * inv, (4 - 7.0 / 3) * inv};
      // dweight = g * xhat, dbias = g
      assertClose(d(xhat[0], 3 * xhat[1], -2 * xhat[2]), ln.weight().grad(), 1e-12);
      assertClose(d(1, 3, -2), ln.bias().grad(), 0);
    }
  }
}
