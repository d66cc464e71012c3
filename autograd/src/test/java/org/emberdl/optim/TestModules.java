package org.emberdl.optim;

import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/** Tiny modules for optimizer tests. */
final class TestModules {
  private TestModules() {}

  /** A module whose parameters are the given vectors, named p0, p1, ... */
  static final class Params extends Module {
    Params(float[]... values) {
      for (int i = 0; i < values.length; i++) {
        registerParameter("p" + i, NDArray.of(values[i]));
      }
    }

    @Override
    public Tensor forward(Tensor input) {
      throw new UnsupportedOperationException("parameters only");
    }
  }

  /** Writes {@code values} into the module's flat gradient buffer. */
  static void setGrad(Module m, float... values) {
    try (MemoryScope s = MemoryScope.open()) {
      m.flatParameters().grads().copyFrom(NDArray.of(values));
    }
  }

  static float[] values(Module m) {
    return m.flatParameters().values().toFloatArray();
  }
}
