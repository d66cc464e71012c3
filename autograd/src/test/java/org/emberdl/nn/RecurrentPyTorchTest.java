package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.emberdl.tensor.testing.Approx;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * LSTM and GRU against PyTorch 1.13 itself: {@code src/test/resources/pytorch/
 * make_recurrent_fixture.py} saved, per case, a state dict under PyTorch's keys, the inputs, and
 * PyTorch's output, h_n, c_n and the gradients of {@code sum(output * v_output) + sum(h_n * v_h) +
 * sum(c_n * v_c)}; variable-length cases went through {@code pack_padded_sequence(enforce_sorted=
 * False)} and {@code pad_packed_sequence}. Ember, loaded from that state dict, must agree to 1e-9
 * in float64 and 1e-5 in float32.
 */
class RecurrentPyTorchTest {
  private static final Path FIXTURE = Path.of("src/test/resources/pytorch/recurrent.safetensors");
  private static final int I = 3;
  private static final int H = 4;

  @ParameterizedTest(name = "{0}_{1}")
  @CsvSource({
    // case, dtype, cell, layers, bidirectional, batch_first, bias
    "lstm_1l, f64, lstm, 1, false, false, true",
    "lstm_2l_bidir_bf_init, f64, lstm, 2, true, true, true",
    "lstm_2l_bidir_packed, f64, lstm, 2, true, false, true",
    "lstm_1l_nobias_packed_bf, f64, lstm, 1, false, true, false",
    "gru_1l, f64, gru, 1, false, false, true",
    "gru_2l_bidir_bf_init, f64, gru, 2, true, true, true",
    "gru_2l_bidir_packed, f64, gru, 2, true, false, true",
    "gru_1l_nobias_packed_bf, f64, gru, 1, false, true, false",
    "lstm_1l, f32, lstm, 1, false, false, true",
    "lstm_2l_bidir_bf_init, f32, lstm, 2, true, true, true",
    "lstm_2l_bidir_packed, f32, lstm, 2, true, false, true",
    "lstm_1l_nobias_packed_bf, f32, lstm, 1, false, true, false",
    "gru_1l, f32, gru, 1, false, false, true",
    "gru_2l_bidir_bf_init, f32, gru, 2, true, true, true",
    "gru_2l_bidir_packed, f32, gru, 2, true, false, true",
    "gru_1l_nobias_packed_bf, f32, gru, 1, false, true, false",
  })
  void matchesPytorch(
      String name,
      String dtypeName,
      String cell,
      int layers,
      boolean bidir,
      boolean batchFirst,
      boolean bias)
      throws Exception {
    DType dtype = dtypeName.equals("f64") ? DType.FLOAT64 : DType.FLOAT32;
    double tol = dtype == DType.FLOAT64 ? 1e-9 : 1e-5;
    String p = name + "_" + dtypeName + ".";
    RecurrentLayer.Builder<? extends RecurrentLayer> b =
        cell.equals("lstm") ? LSTM.builder(I, H) : GRU.builder(I, H);
    try (Safetensors.SafetensorsFile ref = Safetensors.read(FIXTURE);
        RecurrentLayer m =
            b.numLayers(layers)
                .bidirectional(bidir)
                .batchFirst(batchFirst)
                .bias(bias)
                .dtype(dtype)
                .build(new Generator(0));
        MemoryScope scope = MemoryScope.open()) {
      Map<String, NDArray> t = ref.tensors();
      Map<String, NDArray> state = PyTorchCompatibilityTest.withPrefix(t, p + "state.");
      // PyTorch's keys, in PyTorch's order, with its shapes
      Map<String, NDArray> ours = m.stateDict();
      assertEquals(List.copyOf(state.keySet()), List.copyOf(ours.keySet()));
      for (String k : state.keySet()) {
        assertArrayEquals(state.get(k).shape(), ours.get(k).shape(), k);
      }
      ours.values().forEach(NDArray::close);
      m.loadStateDict(state, true);

      Tensor x = Tensor.of(t.get(p + "input").copy(), true);
      Tensor h0 = t.containsKey(p + "h0") ? Tensor.of(t.get(p + "h0").copy(), true) : null;
      Tensor c0 = t.containsKey(p + "c0") ? Tensor.of(t.get(p + "c0").copy(), true) : null;
      int[] lengths =
          t.containsKey(p + "lengths") ? toInts(t.get(p + "lengths").toLongArray()) : null;
      RecurrentOutput r = m.run(x, lengths, h0, c0);
      Approx.assertClose(t.get(p + "output").toDoubleArray(), r.output().data(), tol);
      assertArrayEquals(t.get(p + "output").shape(), r.output().shape(), "output shape");
      Approx.assertClose(t.get(p + "h_n").toDoubleArray(), r.hN().data(), tol);
      assertArrayEquals(t.get(p + "h_n").shape(), r.hN().shape(), "h_n shape");
      Tensor loss =
          r.output()
              .mul(Tensor.of(t.get(p + "v_output").share()))
              .sum()
              .add(r.hN().mul(Tensor.of(t.get(p + "v_h").share())).sum());
      if (cell.equals("lstm")) {
        Approx.assertClose(t.get(p + "c_n").toDoubleArray(), r.cN().data(), tol);
        loss = loss.add(r.cN().mul(Tensor.of(t.get(p + "v_c").share())).sum());
      } else {
        assertNull(r.cN());
      }
      loss.backward();
      Approx.assertClose(t.get(p + "grad.input").toDoubleArray(), x.grad(), tol);
      if (h0 != null) {
        Approx.assertClose(t.get(p + "grad.h0").toDoubleArray(), h0.grad(), tol);
      }
      if (c0 != null) {
        Approx.assertClose(t.get(p + "grad.c0").toDoubleArray(), c0.grad(), tol);
      }
      for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
        Approx.assertClose(
            t.get(p + "grad." + e.getKey()).toDoubleArray(), e.getValue().grad(), tol);
      }
      x.close();
      for (Tensor s : new Tensor[] {h0, c0}) {
        if (s != null) {
          s.close();
        }
      }
    }
  }

  private static int[] toInts(long[] v) {
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (int) v[i];
    }
    return out;
  }
}
