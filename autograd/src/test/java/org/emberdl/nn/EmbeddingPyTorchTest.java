package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
 * Embedding against PyTorch 1.13 itself: {@code src/test/resources/pytorch/
 * make_embedding_fixture.py} saved, per case, a state dict under PyTorch's keys (with a nonzero
 * padding row set by hand), the indices, PyTorch's output and the gradient of {@code sum(output *
 * v_output)} with respect to the weight, in which the padding row gets nothing. Ember, loaded from
 * that state dict, must agree to 1e-9 in float64 and 1e-5 in float32.
 */
class EmbeddingPyTorchTest {
  private static final Path FIXTURE = Path.of("src/test/resources/pytorch/embedding.safetensors");
  private static final int NUM = 6;
  private static final int DIM = 3;

  @ParameterizedTest(name = "{0}_{1}")
  @CsvSource({
    // case, dtype, padding_idx as given (empty: none), padding_idx normalized
    "nopad, f64, , ",
    "pad2, f64, 2, 2",
    "padneg1, f64, -1, 5",
    "nopad, f32, , ",
    "pad2, f32, 2, 2",
    "padneg1, f32, -1, 5",
  })
  void matchesPytorch(String name, String dtypeName, Integer pad, Integer normalized)
      throws Exception {
    DType dtype = dtypeName.equals("f64") ? DType.FLOAT64 : DType.FLOAT32;
    double tol = dtype == DType.FLOAT64 ? 1e-9 : 1e-5;
    String p = name + "_" + dtypeName + ".";
    try (Safetensors.SafetensorsFile ref = Safetensors.read(FIXTURE);
        Embedding m =
            pad == null
                ? new Embedding(NUM, DIM, dtype, new Generator(0))
                : new Embedding(NUM, DIM, pad, dtype, new Generator(0));
        MemoryScope scope = MemoryScope.open()) {
      Map<String, NDArray> t = ref.tensors();
      if (pad != null) {
        // zero at init, in both
        Approx.assertClose(new double[DIM], t.get(p + "init_pad_row"), 0);
        try (NDArray row = m.weight().data().narrow(0, normalized, 1)) {
          Approx.assertClose(new double[DIM], row, 0);
        }
        assertEquals(normalized.intValue(), m.paddingIdx().getAsInt());
      } else {
        assertEquals(true, m.paddingIdx().isEmpty());
      }
      Map<String, NDArray> state = PyTorchCompatibilityTest.withPrefix(t, p + "state.");
      assertEquals(List.copyOf(state.keySet()), List.copyOf(m.stateDict().keySet()));
      m.loadStateDict(state, true);

      NDArray idx = t.get(p + "indices");
      Tensor y = m.forward(Tensor.of(idx.share()));
      assertArrayEquals(t.get(p + "output").shape(), y.shape(), "output shape");
      Approx.assertClose(t.get(p + "output").toDoubleArray(), y.data(), tol);
      y.mul(Tensor.of(t.get(p + "v_output").share())).sum().backward();
      Approx.assertClose(t.get(p + "grad.weight").toDoubleArray(), m.weight().grad(), tol);
    }
  }
}
