package org.emberdl.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Parameter;
import org.emberdl.optim.Sgd;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An imported model fine-tunes like any Ember module: layers freeze by name prefix, an optimizer
 * step moves only the others, flat parameter buffers work, and the state dict saves and loads under
 * PyTorch's names.
 */
class OnnxFineTuneTest {
  @TempDir Path dir;

  @Test
  void freezeByPrefixStepAndSaveTheStateDict() throws Exception {
    Path model = OnnxFixtureTest.fixture("resnet.onnx");
    try (OnnxModule net = Onnx.load(model);
        Safetensors.SafetensorsFile ref =
            Safetensors.read(OnnxFixtureTest.fixture("resnet.safetensors"))) {
      NDArray input = ref.tensors().get("input");
      for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
        if (e.getKey().startsWith("stem.") || e.getKey().startsWith("block1.")) {
          e.getValue().requiresGrad(false);
        }
      }
      Map<String, float[]> before = snapshot(net);
      net.flatParameters(); // as Spark's trainer does: values and gradients in one buffer each
      net.train();
      try (Sgd sgd = new Sgd(net, 0.1);
          MemoryScope s = MemoryScope.open()) {
        net.zeroGrad();
        Tensor y = net.forward(Tensor.of(input.copy()));
        y.square().mean().backward();
        sgd.step();
      }
      net.eval();
      Map<String, float[]> after = snapshot(net);
      for (String name : before.keySet()) {
        boolean frozen = name.startsWith("stem.") || name.startsWith("block1.");
        boolean moved = !java.util.Arrays.equals(before.get(name), after.get(name));
        assertTrue(frozen != moved, name + (frozen ? " is frozen but moved" : " did not move"));
      }
      assertFalse(
          java.util.Arrays.equals(
              net.namedBuffers().get("block1.bn1.running_mean").toFloatArray(), new float[8]),
          "running statistics came from the file");

      // the state dict (PyTorch's keys) saves, and loads into a fresh import
      Path weights = dir.resolve("tuned.safetensors");
      net.save(weights);
      try (OnnxModule fresh = Onnx.load(model);
          NoGrad ng = NoGrad.enter();
          MemoryScope s = MemoryScope.open()) {
        fresh.load(weights);
        float[] a = net.forward(Tensor.of(input.copy())).data().toFloatArray();
        float[] b = fresh.forward(Tensor.of(input.copy())).data().toFloatArray();
        assertArrayEquals(a, b);
      }
    }
  }

  @Test
  void frozenParametersGetNoGradient() throws Exception {
    try (OnnxModule mlp = Onnx.load(OnnxFixtureTest.fixture("mlp.onnx"));
        MemoryScope s = MemoryScope.open()) {
      mlp.namedParameters().get("fc1.weight").requiresGrad(false);
      Tensor x = Tensor.of(NDArray.ones(org.emberdl.tensor.DType.FLOAT32, 2, 3, 4));
      mlp.forward(x).sum().backward();
      assertNull(mlp.namedParameters().get("fc1.weight").gradOrNull());
      assertTrue(mlp.namedParameters().get("fc1.bias").gradOrNull() != null);
    }
  }

  private static Map<String, float[]> snapshot(OnnxModule m) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
      out.put(e.getKey(), e.getValue().data().toFloatArray());
    }
    return out;
  }
}
