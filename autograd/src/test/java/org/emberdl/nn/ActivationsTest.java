package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f64;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Softmax, LogSoftmax and Identity. */
class ActivationsTest {
  private static double[] apply(Module m, double... x) {
    try (MemoryScope s = MemoryScope.open()) {
      return m.forward(f64(x, x.length)).data().toDoubleArray();
    } finally {
      m.close();
    }
  }

  @Test
  void elementwiseValues() {
    assertClose(d(0, 0, 2), apply(new ReLU(), -1, 0, 2), 0);
    assertClose(d(-0.02, 0, 2), apply(new LeakyReLU(), -2, 0, 2), 1e-15);
    assertClose(d(-0.4, 3), apply(new LeakyReLU(0.2), -2, 3), 1e-15);
    assertClose(d(Math.tanh(-1), 0, Math.tanh(0.5)), apply(new Tanh(), -1, 0, 0.5), 1e-15);
    // 1 / (1 + e^-x): 0.5 at 0, 1 / (1 + e^-2) at 2
    assertClose(d(0.5, 1 / (1 + Math.exp(-2))), apply(new Sigmoid(), 0, 2), 1e-15);
    // x * Phi(x): Phi(1) = 0.8413447460685429, Phi(-1) = 1 - Phi(1)
    assertClose(d(0.8413447460685429, -0.15865525393145707, 0), apply(new GELU(), 1, -1, 0), 1e-12);
    // tanh form at 1: 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715))
    assertClose(
        d(0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715))),
        apply(new GELU("tanh"), 1),
        1e-12);
    assertThrows(IllegalArgumentException.class, () -> new GELU("erf"));
  }

  @Test
  void softmaxAndLogSoftmaxAlongADim() {
    try (Softmax sm = new Softmax(1);
        LogSoftmax lsm = new LogSoftmax(-1);
        Softmax columns = new Softmax(0);
        MemoryScope s = MemoryScope.open()) {
      Tensor x = f64(d(1, 2, 3, 0, 0, 0), 2, 3);
      // e^[1,2,3] / (e + e^2 + e^3) = [0.09003057, 0.24472847, 0.66524096]; a constant row is
      // uniform
      double[] p = {0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
      double t = 1.0 / 3;
      assertClose(d(p[0], p[1], p[2], t, t, t), sm.forward(x).data(), 1e-12);
      assertClose(
          d(Math.log(p[0]), Math.log(p[1]), Math.log(p[2]), Math.log(t), Math.log(t), Math.log(t)),
          lsm.forward(x).data(),
          1e-12);
      // along dim 0 each column sums to 1
      assertClose(d(1, 1, 1), columns.forward(x).data().sum(0), 1e-12);
      assertEquals("Softmax(dim=1)", sm.toString());
      assertEquals("LogSoftmax(dim=-1)", lsm.toString());
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    Module[] modules = {
      new ReLU(),
      new LeakyReLU(0.1),
      new GELU(),
      new GELU("tanh"),
      new Tanh(),
      new Sigmoid(),
      new Softmax(1),
      new LogSoftmax(0),
      new Identity()
    };
    try (MemoryScope s = MemoryScope.open()) {
      // |x| >= 0.2: away from the kinks of ReLU and LeakyReLU
      NDArray mag = NDArray.uniform(new Generator(1), DType.FLOAT64, 0.2, 2, 3, 4);
      NDArray sign = NDArray.bernoulli(new Generator(2), 0.5, DType.FLOAT64, 3, 4).mul(2).sub(1);
      NDArray x = mag.mul(sign);
      for (Module m : modules) {
        NnTesting.checkInputGradient(m, x);
      }
    } finally {
      for (Module m : modules) {
        m.close();
      }
    }
  }

  @Test
  void reprsAreTorchs() {
    assertEquals("ReLU()", new ReLU().toString());
    assertEquals("LeakyReLU(negative_slope=0.01)", new LeakyReLU().toString());
    assertEquals("GELU(approximate='none')", new GELU().toString());
    assertEquals("GELU(approximate='tanh')", new GELU("tanh").toString());
    assertEquals("Tanh()", new Tanh().toString());
    assertEquals("Sigmoid()", new Sigmoid().toString());
    assertEquals("Identity()", new Identity().toString());
  }

  @Test
  void floatsPrintAsPythonWouldRepr() {
    assertEquals("1e-05", Repr.num(1e-5));
    assertEquals("0.1", Repr.num(0.1));
    assertEquals("0.0001", Repr.num(1e-4));
    assertEquals("0.00015", Repr.num(1.5e-4));
    assertEquals("2.5e-07", Repr.num(2.5e-7));
    assertEquals("10000000.0", Repr.num(1e7));
    assertEquals("1e+16", Repr.num(1e16));
    assertEquals("0.0", Repr.num(0));
  }
}
