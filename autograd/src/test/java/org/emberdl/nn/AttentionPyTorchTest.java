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
 * MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against PyTorch 1.13 itself:
 * {@code src/test/resources/pytorch/make_attention_fixture.py} saved, per case, a state dict under
 * PyTorch's keys (parameters moved off their init), the inputs and masks, and PyTorch's output (and
 * attention weights) and the gradients of {@code sum(output * v_output) + sum(weights * v_weights)}
 * with respect to the inputs and every parameter. Ember, loaded from that state dict, must agree to
 * 1e-9 in float64 and 1e-5 in float32.
 */
class AttentionPyTorchTest {
  private static final Path FIXTURE = Path.of("src/test/resources/pytorch/attention.safetensors");
  private static final int E = 8;
  private static final int H = 2;
  private static final int FF = 16;

  @ParameterizedTest(name = "{0}_{1}")
  @CsvSource({
    // case, dtype, batch_first, bias, self-attention, need weights, average
    "mha_self_bf, f64, true, true, true, true, true",
    "mha_self_kpm_causal, f64, false, true, true, true, false",
    "mha_cross_bf_bool, f64, true, true, false, true, true",
    "mha_cross_nobias_float3d, f64, false, false, false, false, true",
    "mha_self_bf, f32, true, true, true, true, true",
    "mha_self_kpm_causal, f32, false, true, true, true, false",
    "mha_cross_bf_bool, f32, true, true, false, true, true",
    "mha_cross_nobias_float3d, f32, false, false, false, false, true",
  })
  void multiheadAttentionMatchesPytorch(
      String name,
      String dtypeName,
      boolean batchFirst,
      boolean bias,
      boolean selfAttention,
      boolean needWeights,
      boolean average)
      throws Exception {
    DType dtype = dtypeName.equals("f64") ? DType.FLOAT64 : DType.FLOAT32;
    double tol = dtype == DType.FLOAT64 ? 1e-9 : 1e-5;
    String p = name + "_" + dtypeName + ".";
    try (Safetensors.SafetensorsFile ref = Safetensors.read(FIXTURE);
        MultiheadAttention m =
            new MultiheadAttention(E, H, 0.0, bias, batchFirst, dtype, new Generator(0));
        MemoryScope scope = MemoryScope.open()) {
      Map<String, NDArray> t = ref.tensors();
      loadWithPytorchKeys(m, t, p);
      Tensor q = Tensor.of(t.get(p + "query").copy(), true);
      Tensor k = selfAttention ? q : Tensor.of(t.get(p + "key").copy(), true);
      Tensor v = selfAttention ? q : Tensor.of(t.get(p + "value").copy(), true);
      AttentionOutput r =
          m.attend(
              q, k, v, t.get(p + "key_padding_mask"), t.get(p + "attn_mask"), needWeights, average);
      assertArrayEquals(t.get(p + "output").shape(), r.output().shape(), "output shape");
      Approx.assertClose(t.get(p + "output").toDoubleArray(), r.output().data(), tol);
      Tensor loss = r.output().mul(Tensor.of(t.get(p + "v_output").share())).sum();
      if (needWeights) {
        assertArrayEquals(t.get(p + "weights").shape(), r.weights().shape(), "weights shape");
        Approx.assertClose(t.get(p + "weights").toDoubleArray(), r.weights().data(), tol);
        loss = loss.add(r.weights().mul(Tensor.of(t.get(p + "v_weights").share())).sum());
      } else {
        assertNull(r.weights());
      }
      loss.backward();
      Approx.assertClose(t.get(p + "grad.query").toDoubleArray(), q.grad(), tol);
      if (!selfAttention) {
        Approx.assertClose(t.get(p + "grad.key").toDoubleArray(), k.grad(), tol);
        Approx.assertClose(t.get(p + "grad.value").toDoubleArray(), v.grad(), tol);
        k.close();
        v.close();
      }
      q.close();
      assertParameterGradients(m, t, p, tol);
    }
  }

  @ParameterizedTest(name = "{0}_{1}")
  @CsvSource({
    // case, dtype, layers (0 = one layer alone), norm_first, activation, batch_first, final norm
    "layer_post_relu_bf_kpm, f64, 0, false, RELU, true, false",
    "layer_pre_gelu_causal, f64, 0, true, GELU, false, false",
    "encoder_2l_pre_gelu_bf_norm, f64, 2, true, GELU, true, true",
    "encoder_2l_post_relu, f64, 2, false, RELU, false, false",
    "layer_post_relu_bf_kpm, f32, 0, false, RELU, true, false",
    "layer_pre_gelu_causal, f32, 0, true, GELU, false, false",
    "encoder_2l_pre_gelu_bf_norm, f32, 2, true, GELU, true, true",
    "encoder_2l_post_relu, f32, 2, false, RELU, false, false",
  })
  void encoderMatchesPytorch(
      String name,
      String dtypeName,
      int layers,
      boolean normFirst,
      TransformerEncoderLayer.Activation activation,
      boolean batchFirst,
      boolean finalNorm)
      throws Exception {
    DType dtype = dtypeName.equals("f64") ? DType.FLOAT64 : DType.FLOAT32;
    double tol = dtype == DType.FLOAT64 ? 1e-9 : 1e-5;
    String p = name + "_" + dtypeName + ".";
    Generator gen = new Generator(0);
    TransformerEncoderLayer.Config config =
        new TransformerEncoderLayer.Config(E, H)
            .withDimFeedforward(FF)
            .withDropout(0)
            .withActivation(activation)
            .withBatchFirst(batchFirst)
            .withNormFirst(normFirst)
            .withDtype(dtype);
    TransformerEncoderLayer layer = new TransformerEncoderLayer(config, gen);
    Module m =
        layers == 0
            ? layer
            : new TransformerEncoder(
                layer,
                layers,
                finalNorm ? new LayerNorm(new int[] {E}, 1e-5, true, true, dtype) : null,
                gen);
    try (Safetensors.SafetensorsFile ref = Safetensors.read(FIXTURE);
        m;
        MemoryScope scope = MemoryScope.open()) {
      Map<String, NDArray> t = ref.tensors();
      loadWithPytorchKeys(m, t, p);
      Tensor x = Tensor.of(t.get(p + "input").copy(), true);
      NDArray mask = t.get(p + "attn_mask");
      NDArray pad = t.get(p + "key_padding_mask");
      Tensor y =
          m instanceof TransformerEncoder enc
              ? enc.forward(x, mask, pad)
              : layer.forward(x, mask, pad);
      assertArrayEquals(t.get(p + "output").shape(), y.shape(), "output shape");
      Approx.assertClose(t.get(p + "output").toDoubleArray(), y.data(), tol);
      y.mul(Tensor.of(t.get(p + "v_output").share())).sum().backward();
      Approx.assertClose(t.get(p + "grad.input").toDoubleArray(), x.grad(), tol);
      x.close();
      assertParameterGradients(m, t, p, tol);
    }
  }

  /** PyTorch's keys, in PyTorch's order, with its shapes; then the values loaded (strict). */
  private static void loadWithPytorchKeys(Module m, Map<String, NDArray> t, String p) {
    Map<String, NDArray> state = PyTorchCompatibilityTest.withPrefix(t, p + "state.");
    Map<String, NDArray> ours = m.stateDict();
    assertEquals(List.copyOf(state.keySet()), List.copyOf(ours.keySet()));
    for (String k : state.keySet()) {
      assertArrayEquals(state.get(k).shape(), ours.get(k).shape(), k);
    }
    ours.values().forEach(NDArray::close);
    m.loadStateDict(state, true);
  }

  private static void assertParameterGradients(
      Module m, Map<String, NDArray> t, String p, double tol) {
    for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
      NDArray expected = t.get(p + "grad." + e.getKey());
      if (expected == null) {
        throw new AssertionError("the fixture has no gradient for " + e.getKey());
      }
      try {
        Approx.assertClose(expected.toDoubleArray(), e.getValue().grad(), tol);
      } catch (AssertionError err) {
        throw new AssertionError("gradient of " + e.getKey() + ": " + err.getMessage(), err);
      }
    }
  }
}
