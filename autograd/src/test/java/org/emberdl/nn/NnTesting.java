package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/** Shared helpers of the layer tests: literal tensors, state dicts, gradient checks. */
final class NnTesting {
  private NnTesting() {}

  /** A float32 constant with the given values (in the current scope). */
  static Tensor f32(double[] values, int... shape) {
    float[] f = new float[values.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) values[i];
    }
    return Tensor.of(NDArray.of(f, shape));
  }

  /** A float64 constant with the given values (in the current scope). */
  static Tensor f64(double[] values, int... shape) {
    return Tensor.of(NDArray.of(values, shape));
  }

  static double[] d(double... v) {
    return v;
  }

  /** A state dict from alternating keys and arrays. */
  static Map<String, NDArray> state(Object... keysAndValues) {
    Map<String, NDArray> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      m.put((String) keysAndValues[i], (NDArray) keysAndValues[i + 1]);
    }
    return m;
  }

  /** Finite-difference check of d(module(x))/dx, through the module's own forward. */
  static void checkInputGradient(Module m, NDArray input) {
    GradCheck.defaults().check(t -> m.forward(t[0]), input);
  }

  /**
   * Finite-difference check of the gradient of every parameter of a float64 module, through the
   * module's own forward: {@code sum(m(x) * v)} is differentiated by backward and compared, along a
   * random direction {@code u} per parameter, with {@code (f(p + eps u) - f(p - eps u)) / (2 eps)}
   * (GradCheck's tolerances). GradCheck itself cannot do this: it makes its own leaves, while a
   * module reads its registered parameters.
   */
  static void checkParameterGradients(Module m, NDArray input) {
    double eps = 1e-6;
    try (MemoryScope scope = MemoryScope.open()) {
      Tensor x = Tensor.of(input.share());
      m.zeroGrad();
      Tensor out = m.forward(x);
      NDArray v = NDArray.randn(new Generator(99), DType.FLOAT64, out.shape());
      out.mul(Tensor.of(v.share())).sum().backward();
      Generator directions = new Generator(7);
      for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
        Parameter p = e.getValue();
        NDArray u = NDArray.randn(directions, DType.FLOAT64, p.shape());
        double analytic = p.grad().mul(u).sum().item();
        double numeric;
        try (NoGrad ignored = NoGrad.enter()) {
          p.data().addInPlace(u, eps);
          double plus = m.forward(x).data().mul(v).sum().item();
          p.data().addInPlace(u, -2 * eps);
          double minus = m.forward(x).data().mul(v).sum().item();
          p.data().addInPlace(u, eps);
          numeric = (plus - minus) / (2 * eps);
        }
        assertTrue(
            Math.abs(numeric - analytic) <= 1e-5 + 1e-3 * Math.abs(numeric),
            String.format(
                Locale.ROOT,
                "gradient of %s: numeric %.10g, analytic %.10g",
                e.getKey(),
                numeric,
                analytic));
      }
      m.zeroGrad();
    }
  }
}
