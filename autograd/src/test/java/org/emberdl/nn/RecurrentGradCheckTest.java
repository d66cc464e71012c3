package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import java.util.Map;
import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Finite-difference checks of LSTM and GRU in float64: the input, h0, c0 (through {@link
 * GradCheck}, element by element for these sizes) and every element of every parameter, all through
 * the full result (output, h_n and c_n together, weighted by a fixed random v).
 */
class RecurrentGradCheckTest {
  private static final int T = 4;
  private static final int B = 3;
  private static final int I = 2;
  private static final int H = 3;

  static RecurrentLayer build(
      String cell, int layers, boolean bidir, boolean batchFirst, boolean bias) {
    Generator gen = new Generator(11);
    RecurrentLayer.Builder<? extends RecurrentLayer> b =
        cell.equals("lstm") ? LSTM.builder(I, H) : GRU.builder(I, H);
    return b.numLayers(layers)
        .bidirectional(bidir)
        .batchFirst(batchFirst)
        .bias(bias)
        .dtype(DType.FLOAT64)
        .build(gen);
  }

  /** Output, h_n and c_n flattened into one vector, so that v^T J covers all three. */
  static Tensor all(RecurrentOutput r) {
    try (r;
        Tensor o = r.output().reshape(-1);
        Tensor h = r.hN().reshape(-1);
        Tensor c = r.cN() == null ? null : r.cN().reshape(-1)) {
      return c == null ? Tensor.cat(0, o, h) : Tensor.cat(0, o, h, c);
    }
  }

  @ParameterizedTest(
      name = "{0} layers={1} bidirectional={2} batchFirst={3} lengths={4} init={5} bias={6}")
  @CsvSource({
    "lstm, 1, false, false, false, false, true",
    "lstm, 2, false, false, false, false, true",
    "lstm, 1, true, false, false, false, true",
    "lstm, 2, true, true, true, true, true",
    "lstm, 1, false, false, true, false, true",
    "lstm, 1, true, false, true, true, true",
    "lstm, 1, false, true, false, true, true",
    "gru, 1, false, false, false, false, true",
    "gru, 2, false, false, false, false, true",
    "gru, 1, true, false, false, false, true",
    "gru, 2, true, true, true, true, true",
    "gru, 1, false, false, true, false, true",
    "gru, 1, true, false, true, true, true",
    "gru, 1, false, true, false, true, true",
    "lstm, 2, true, false, true, true, false",
    "gru, 2, true, true, true, false, false",
  })
  void gradientsMatchFiniteDifferences(
      String cell,
      int layers,
      boolean bidir,
      boolean batchFirst,
      boolean withLengths,
      boolean withInit,
      boolean bias) {
    try (RecurrentLayer m = build(cell, layers, bidir, batchFirst, bias);
        MemoryScope s = MemoryScope.open()) {
      Generator g = new Generator(3);
      int[] shape = batchFirst ? new int[] {B, T, I} : new int[] {T, B, I};
      NDArray x = NDArray.randn(g, DType.FLOAT64, shape);
      int states = layers * m.directions();
      NDArray h0 = NDArray.randn(g, DType.FLOAT64, states, B, H);
      NDArray c0 = NDArray.randn(g, DType.FLOAT64, states, B, H);
      // unsorted lengths, one full and one of a single step
      int[] lengths = withLengths ? new int[] {2, T, 1} : null;
      boolean lstm = cell.equals("lstm");
      if (withInit) {
        if (lstm) {
          GradCheck.defaults().check(t -> all(m.run(t[0], lengths, t[1], t[2])), x, h0, c0);
        } else {
          GradCheck.defaults().check(t -> all(m.run(t[0], lengths, t[1], null)), x, h0);
        }
      } else {
        GradCheck.defaults().check(t -> all(m.run(t[0], lengths, null, null)), x);
      }
      checkParameters(
          m,
          () ->
              all(
                  m.run(
                      Tensor.of(x.share()),
                      lengths,
                      withInit ? Tensor.of(h0.share()) : null,
                      withInit && lstm ? Tensor.of(c0.share()) : null)));
    }
  }

  /**
   * Every element of every parameter: analytic gradient of {@code sum(f() * v)} against central
   * differences, with GradCheck's tolerances.
   */
  static void checkParameters(Module m, java.util.function.Supplier<Tensor> f) {
    double eps = 1e-6;
    try (MemoryScope scope = MemoryScope.open()) {
      m.zeroGrad();
      Tensor out = f.get();
      NDArray v = NDArray.randn(new Generator(99), DType.FLOAT64, out.shape());
      out.mul(Tensor.of(v.share())).sum().backward();
      for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
        Parameter p = e.getValue();
        double[] analytic = p.grad().toDoubleArray();
        try (NDArray flat = p.data().reshape(-1)) {
          for (int j = 0; j < analytic.length; j++) {
            double numeric;
            try (NoGrad ignored = NoGrad.enter();
                MemoryScope inner = MemoryScope.open();
                NDArray el = flat.narrow(0, j, 1)) {
              el.addInPlace(eps);
              double plus = f.get().data().mul(v).sum().item();
              el.addInPlace(-2 * eps);
              double minus = f.get().data().mul(v).sum().item();
              el.addInPlace(eps);
              numeric = (plus - minus) / (2 * eps);
            }
            double a = analytic[j];
            assertTrue(
                Math.abs(numeric - a) <= 1e-5 + 1e-3 * Math.abs(numeric),
                String.format(
                    Locale.ROOT,
                    "gradient of %s[%d]: numeric %.10g, analytic %.10g",
                    e.getKey(),
                    j,
                    numeric,
                    a));
          }
        }
      }
      m.zeroGrad();
    }
  }
}
