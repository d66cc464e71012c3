package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.optim.Adam;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.emberdl.tensor.testing.Approx;
import org.junit.jupiter.api.Test;

/**
 * Ember against PyTorch itself: {@code src/test/resources/pytorch/make_fixture.py} (run with
 * PyTorch 1.13) saved a model's state dict, an input, and what PyTorch computed: the train-mode
 * forward pass, a label-smoothed cross-entropy, every gradient, one Adam step and the updated
 * BatchNorm statistics. The same model in Ember, loaded from PyTorch's state dict, must agree.
 */
class PyTorchCompatibilityTest {
  static Sequential model() {
    Generator gen = new Generator(0); // overwritten by PyTorch's weights
    DType f64 = DType.FLOAT64;
    return new Sequential(
        new Conv2d(
            1, 4, new int[] {3}, new int[] {1}, new int[] {1}, new int[] {1}, 1, true, f64, gen),
        new BatchNorm2d(4, 1e-5, 0.1, true, true, f64),
        new ReLU(),
        new MaxPool2d(2),
        new Flatten(),
        new Linear(64, 16, true, f64, gen),
        new GELU(),
        new Linear(16, 5, true, f64, gen));
  }

  static Map<String, NDArray> withPrefix(Map<String, NDArray> all, String prefix) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    all.forEach(
        (k, v) -> {
          if (k.startsWith(prefix)) {
            out.put(k.substring(prefix.length()), v);
          }
        });
    return out;
  }

  @Test
  void forwardBackwardAndAdamMatchPytorch() throws Exception {
    Path fixture = Path.of("src/test/resources/pytorch/reference.safetensors");
    try (Safetensors.SafetensorsFile ref = Safetensors.read(fixture);
        Sequential net = model();
        MemoryScope scope = MemoryScope.open()) {
      Map<String, NDArray> t = ref.tensors();
      Map<String, NDArray> state = withPrefix(t, "state.");
      // same keys, in the same order, with the same shapes and dtypes as PyTorch's state_dict
      Map<String, NDArray> ours = net.stateDict();
      assertEquals(java.util.List.copyOf(state.keySet()), java.util.List.copyOf(ours.keySet()));
      for (String k : state.keySet()) {
        assertArrayEquals(state.get(k).shape(), ours.get(k).shape(), k);
        assertEquals(state.get(k).dtype(), ours.get(k).dtype(), k);
      }
      net.loadStateDict(state, true);

      try (Adam adam = new Adam(net, 0.01)) {
        net.train();
        Tensor logits = net.forward(Tensor.of(t.get("input").share()));
        Approx.assertClose(t.get("logits").toDoubleArray(), logits.data(), 1e-10);
        CrossEntropyLoss lossFn = CrossEntropyLoss.builder().labelSmoothing(0.1).build();
        Tensor loss = lossFn.apply(logits, t.get("target"));
        Approx.assertClose(t.get("loss").toDoubleArray(), loss.data(), 1e-12);
        adam.zeroGrad();
        loss.backward();
        for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
          Approx.assertClose(
              t.get("grad." + e.getKey()).toDoubleArray(), e.getValue().grad(), 1e-9);
        }
        adam.step();
      }
      Map<String, NDArray> after = withPrefix(t, "after.");
      Map<String, NDArray> updated = net.stateDict();
      for (String k : after.keySet()) {
        Approx.assertClose(after.get(k).toDoubleArray(), updated.get(k), 1e-9);
      }
      updated.values().forEach(NDArray::close);
      ours.values().forEach(NDArray::close);
    }
  }
}
