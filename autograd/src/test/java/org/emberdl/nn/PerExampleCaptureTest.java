package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class PerExampleCaptureTest {
  private static Sequential mlp(boolean bias) {
    Generator gen = new Generator(3);
    return new Sequential(new Linear(4, 5, bias, gen), new Tanh(), new Linear(5, 2, bias, gen));
  }

  @Test
  void capturedLayersGiveTheOrdinaryValuesAndGradients() {
    for (boolean bias : new boolean[] {true, false}) {
      try (Sequential plain = mlp(bias);
          Sequential captured = mlp(bias);
          NDArray x = NDArray.randn(new Generator(9), DType.FLOAT32, 3, 4);
          MemoryScope s = MemoryScope.open()) {
        Tensor in = Tensor.of(x.share(), true);
        Tensor y1 = plain.forward(in);
        y1.square().sum().backward();
        Tensor in2 = Tensor.of(x.share(), true);
        Tensor y2;
        try (PerExampleCapture c = PerExampleCapture.open()) {
          y2 = captured.forward(in2);
          assertEquals("CapturedLinearBackward(5 -> 2)", y2.gradFn().toString());
          y2.square().sum().backward();
        }
        assertArrayEquals(y1.data().toFloatArray(), y2.data().toFloatArray(), 1e-6f);
        assertArrayEquals(in.grad().toFloatArray(), in2.grad().toFloatArray(), 1e-6f);
        for (int i = 0; i < plain.parameters().size(); i++) {
          assertArrayEquals(
              plain.parameters().get(i).grad().toFloatArray(),
              captured.parameters().get(i).grad().toFloatArray(),
              1e-6f);
        }
      }
    }
  }

  @Test
  void recordingTakesDeltasAndNoParameterGradients() {
    // one layer: delta = dL/dy = 2y for L = sum y^2, so ||g_W,i||^2 = ||2 y_i||^2 (||x_i||^2 + 1)
    try (Linear fc = new Linear(3, 2, new Generator(1));
        NDArray x = NDArray.of(new float[] {1, 2, -1, 0, 0.5f, 3}, 2, 3);
        MemoryScope s = MemoryScope.open();
        PerExampleCapture c = PerExampleCapture.open()) {
      Tensor y = fc.forward(Tensor.of(x.share()));
      c.setRecording(true);
      y.square().sum().backward();
      assertNull(fc.weight().gradOrNull());
      assertNull(fc.bias().gradOrNull());
      float[] yv = y.data().toFloatArray();
      float[] xv = x.toFloatArray();
      double[] norms = c.perExampleSquaredNorms();
      for (int i = 0; i < 2; i++) {
        double d2 = 4 * (yv[2 * i] * yv[2 * i] + yv[2 * i + 1] * yv[2 * i + 1]);
        double x2 = 0;
        for (int j = 0; j < 3; j++) {
          x2 += xv[3 * i + j] * xv[3 * i + j];
        }
        assertEquals(d2 * (x2 + 1), norms[i], 1e-5 * d2 * (x2 + 1));
      }
      assertNull(c.coversAllParameters(fc));
    }
  }

  @Test
  void coverageNamesLayersWithoutAGhostRule() {
    Generator gen = new Generator(2);
    try (Sequential m = new Sequential(new Linear(4, 4, gen), new LayerNorm(4));
        NDArray x = NDArray.randn(gen, DType.FLOAT32, 2, 4);
        MemoryScope s = MemoryScope.open();
        PerExampleCapture c = PerExampleCapture.open()) {
      Tensor y = m.forward(Tensor.of(x.share()));
      y.sum().backward();
      assertNotNull(c.coversAllParameters(m));
      assertEquals("LayerNorm has parameters and no ghost-norm rule", c.coversAllParameters(m));
    }
    try (Linear fc = new Linear(4, 2, gen);
        NDArray x = NDArray.randn(gen, DType.FLOAT32, 2, 3, 4);
        MemoryScope s = MemoryScope.open();
        PerExampleCapture c = PerExampleCapture.open()) {
      Tensor y = fc.forward(Tensor.of(x.share()));
      y.sum().backward();
      assertEquals("Linear called on an input of 3 dims, not (B, in)", c.coversAllParameters(fc));
    }
  }

  @Test
  void capturesDoNotNest() {
    try (PerExampleCapture c = PerExampleCapture.open()) {
      assertThrows(IllegalStateException.class, PerExampleCapture::open);
    }
    try (PerExampleCapture c = PerExampleCapture.open()) {
      assertNotNull(c);
    }
  }
}
