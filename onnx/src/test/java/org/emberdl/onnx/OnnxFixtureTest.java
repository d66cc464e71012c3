package org.emberdl.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Parameter;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Models exported by PyTorch 1.13 (src/test/python/make_fixtures.py) import into modules that
 * reproduce PyTorch's outputs (1e-5) and its gradients with respect to the input (1e-4), and whose
 * weights are parameters under PyTorch's names that backward reaches.
 */
class OnnxFixtureTest {

  static Path fixture(String file) throws URISyntaxException {
    return Path.of(OnnxFixtureTest.class.getResource("fixtures/" + file).toURI());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "mlp",
        "resnet",
        "encoder_opset13",
        "encoder_opset17",
        "ops_opset11",
        "ops_opset13",
        "conv_mix",
        "embedding"
      })
  void reproducesPyTorchOutputsAndInputGradients(String name) throws Exception {
    try (OnnxModule model = Onnx.load(fixture(name + ".onnx"));
        Safetensors.SafetensorsFile ref = Safetensors.read(fixture(name + ".safetensors"));
        MemoryScope scope = MemoryScope.open()) {
      Map<String, NDArray> t = ref.tensors();
      NDArray input = t.get("input");
      boolean floating = input.dtype().isFloatingPoint();
      Tensor x = Tensor.of(input.copy(), floating);
      Tensor y = model.forward(x);
      assertArrayEquals(t.get("output").shape(), y.shape(), name + " output shape");
      assertClose(t.get("output").toFloatArray(), y.data().toFloatArray(), 1e-5, name + " output");

      Tensor weighted = y.mul(Tensor.of(t.get("output_weight").share()));
      weighted.sum().backward();
      if (floating) {
        assertClose(
            t.get("input_grad").toFloatArray(), x.grad().toFloatArray(), 1e-4, name + " dinput");
      }
      int compared = 0;
      for (Map.Entry<String, Parameter> p : model.namedParameters().entrySet()) {
        assertNotNull(p.getValue().gradOrNull(), name + ": backward did not reach " + p.getKey());
        NDArray expected = t.get("grad." + p.getKey());
        if (expected != null) { // folded weights (onnx::MatMul_146) have no PyTorch gradient
          assertClose(
              expected.toFloatArray(),
              p.getValue().grad().toFloatArray(),
              1e-4,
              name + " d" + p.getKey());
          compared++;
        }
      }
      assertTrue(compared > 0, name + ": no parameter gradient compared");
    }
  }

  /**
   * Re-exported (the file's graph with the module's weights), each fixture runs in ONNX Runtime to
   * the outputs Ember computes: the two implementations agree on PyTorch's graphs.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "mlp",
        "resnet",
        "encoder_opset13",
        "encoder_opset17",
        "ops_opset11",
        "ops_opset13",
        "conv_mix",
        "embedding"
      })
  void reexportRunsInOnnxRuntimeToEmbersOutputs(String name) throws Exception {
    try (OnnxModule model = Onnx.load(fixture(name + ".onnx"));
        Safetensors.SafetensorsFile ref = Safetensors.read(fixture(name + ".safetensors"))) {
      byte[] again = model.exportOnnxBytes();
      OrtRunner.assertSameOutput(again, model, ref.tensors().get("input"));
    }
  }

  @Test
  void weightsArePyTorchNamedParametersAndBatchNormStatisticsBuffers() throws Exception {
    try (OnnxModule mlp = Onnx.load(fixture("mlp.onnx"))) {
      assertEquals(
          List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"),
          List.copyOf(mlp.namedParameters().keySet()));
      assertArrayEquals(new int[] {16, 12}, mlp.namedParameters().get("fc1.weight").shape());
      assertEquals(List.of("input"), mlp.inputNames());
      assertEquals(List.of("output"), mlp.outputNames());
      assertEquals(13, mlp.opsetVersion());
      assertTrue(mlp.producer().startsWith("pytorch"), mlp.producer());
      assertTrue(!mlp.isTraining(), "load returns the module in eval mode");
    }
    try (OnnxModule cnn = Onnx.load(fixture("resnet.onnx"))) {
      Map<String, Parameter> params = cnn.namedParameters();
      assertTrue(params.containsKey("block2.down.0.weight"), params.keySet().toString());
      assertTrue(params.containsKey("block1.bn1.weight"), params.keySet().toString());
      assertTrue(cnn.namedBuffers().containsKey("block1.bn1.running_mean"));
      assertTrue(cnn.namedBuffers().containsKey("block2.down.1.running_var"));
      assertTrue(!params.containsKey("block1.bn1.running_mean"));
      // the state dict has PyTorch's keys for every parameter and running statistic
      Map<String, NDArray> state = cnn.stateDict();
      try {
        assertEquals(33, state.size(), state.keySet().toString());
      } finally {
        state.values().forEach(NDArray::close);
      }
    }
  }

  static void assertClose(float[] expected, float[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what + " length");
    double worst = 0;
    int at = -1;
    for (int i = 0; i < expected.length; i++) {
      double d = Math.abs(expected[i] - actual[i]);
      if (!(d <= worst)) {
        worst = d;
        at = i;
      }
    }
    assertTrue(
        worst <= tol,
        what
            + ": largest difference "
            + worst
            + " at "
            + at
            + " (expected "
            + (at >= 0 ? expected[at] : 0)
            + ", got "
            + (at >= 0 ? actual[at] : 0)
            + ")");
  }
}
