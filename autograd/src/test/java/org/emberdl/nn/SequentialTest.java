package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.state;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sequential containers and what every model needs: names, flat buffers, state dicts. */
class SequentialTest {
  /** Conv(1 -> 2, 3x3) on 6x6 gives 4x4, pooled to 2x2: 2 * 2 * 2 = 8 features. */
  private static Sequential convNet(long seed) {
    Generator g = new Generator(seed);
    return new Sequential(
        new Conv2d(1, 2, 3, g), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8, 3, g));
  }

  /** A model with buffers (batch norm) and randomness (dropout). */
  private static Sequential mlp(long seed) {
    Generator g = new Generator(seed);
    return new Sequential(
        new Linear(4, 8, g),
        new BatchNorm1d(8),
        new ReLU(),
        new Dropout(0.5, g),
        new Linear(8, 3, g));
  }

  @Test
  void childrenAreNamedByIndexAsInPyTorch() {
    try (Sequential model = convNet(0);
        MemoryScope s = MemoryScope.open()) {
      Map<String, Parameter> params = model.namedParameters();
      assertEquals(
          List.of("0.weight", "0.bias", "4.weight", "4.bias"), List.copyOf(params.keySet()));
      assertArrayEquals(new int[] {2, 1, 3, 3}, params.get("0.weight").shape());
      assertArrayEquals(new int[] {2}, params.get("0.bias").shape());
      assertArrayEquals(new int[] {3, 8}, params.get("4.weight").shape());
      assertArrayEquals(new int[] {3}, params.get("4.bias").shape());
      assertEquals(18 + 2 + 24 + 3, model.parameterCount());
      assertEquals(List.of("0", "1", "2", "3", "4"), List.copyOf(model.children().keySet()));
      Tensor y =
          model.forward(Tensor.of(NDArray.randn(new Generator(1), DType.FLOAT32, 5, 1, 6, 6)));
      assertArrayEquals(new int[] {5, 3}, y.shape());
    }
  }

  @Test
  void getSizeAddAndIteration() {
    try (Sequential model = new Sequential()) {
      assertEquals(0, model.size());
      ReLU relu = new ReLU();
      Tanh tanh = new Tanh();
      assertSame(model, model.add(relu).add(tanh));
      assertEquals(2, model.size());
      assertSame(relu, model.get(0));
      assertSame(tanh, model.get(-1));
      assertThrows(IndexOutOfBoundsException.class, () -> model.get(2));
      List<Module> seen = new ArrayList<>();
      model.forEach(seen::add);
      assertEquals(List.of(relu, tanh), seen);
      assertEquals("Sequential(\n  (0): ReLU()\n  (1): Tanh()\n)", model.toString());
    }
  }

  @Test
  void forwardChainsTheModulesAndBackwardReachesEveryParameter() {
    try (Sequential model = convNet(2);
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(3), DType.FLOAT32, 2, 1, 6, 6));
      Tensor y = model.forward(x);
      // the same by hand, module by module
      Tensor h = x;
      for (Module m : model) {
        h = m.forward(h);
      }
      assertArrayEquals(h.data().toFloatArray(), y.data().toFloatArray());
      // intermediates were closed eagerly; backward still has what it needs
      y.sum().backward();
      for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
        NDArray g = e.getValue().grad();
        assertTrue(g.abs().sum().item() > 0, e.getKey() + " got a gradient");
      }
    }
  }

  @Test
  void emptySequentialIsTheIdentity() {
    try (Sequential model = new Sequential();
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.of(new float[] {1, 2}));
      Tensor y = model.forward(x);
      assertNotSame(x, y);
      assertArrayEquals(x.data().toFloatArray(), y.data().toFloatArray());
    }
  }

  @Test
  void trainAndEvalReachEveryChild() {
    try (Sequential model = mlp(0)) {
      model.eval();
      for (Module m : model) {
        assertFalse(m.isTraining());
      }
      model.train();
      assertTrue(model.get(3).isTraining());
    }
  }

  @Test
  void flatParametersKeepOutputsAndMakeParametersViews() {
    try (Sequential model = convNet(4);
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(5), DType.FLOAT32, 2, 1, 6, 6));
      float[] before = model.forward(x).data().toFloatArray();
      FlatParameters flat = model.flatParameters();
      assertEquals(model.parameterCount(), flat.numel());
      assertArrayEquals(before, model.forward(x).data().toFloatArray());
      List<Parameter> params = model.parameters();
      for (int i = 0; i < params.size(); i++) {
        Parameter p = params.get(i);
        assertSame(flat.values().storage(), p.data().storage(), "parameter " + i + " is a view");
        int at = (int) (long) flat.offsets().get(i);
        int n = (int) (long) flat.sizes().get(i);
        assertArrayEquals(
            flat.values().narrow(0, at, n).toFloatArray(), p.data().reshape(-1).toFloatArray());
      }
      // backward writes into the flat gradient buffer
      model.forward(x).sum().backward();
      Parameter last = params.get(params.size() - 1);
      int lastAt = (int) (long) flat.offsets().get(params.size() - 1);
      assertArrayEquals(
          last.grad().toFloatArray(), flat.grads().narrow(0, lastAt, 3).toFloatArray());
      assertTrue(flat.grads().abs().sum().item() > 0);
      // and writing the flat values writes every parameter
      flat.values().fill(0);
      assertTrue(model.forward(x).data().eq(0).all().item() != 0);
    }
  }

  @Test
  void saveThenLoadIntoAFreshModelGivesIdenticalOutputs(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("mlp.safetensors");
    try (Sequential trained = mlp(10);
        Sequential fresh = mlp(20);
        MemoryScope s = MemoryScope.open()) {
      // one training-mode pass moves the batch norm's running statistics off their defaults
      Tensor batch = Tensor.of(NDArray.randn(new Generator(11), DType.FLOAT32, 16, 4));
      trained.forward(batch);
      trained.eval();
      fresh.eval();
      Tensor x = Tensor.of(NDArray.randn(new Generator(12), DType.FLOAT32, 5, 4));
      float[] expected = trained.forward(x).data().toFloatArray();
      assertFalse(java.util.Arrays.equals(expected, fresh.forward(x).data().toFloatArray()));

      trained.save(file);
      fresh.load(file);
      assertArrayEquals(expected, fresh.forward(x).data().toFloatArray());
      assertEquals(1, ((BatchNorm) fresh.get(1)).numBatchesTracked());
      Map<String, NDArray> sd = fresh.stateDict();
      try {
        assertEquals(
            Set.of(
                "0.weight",
                "0.bias",
                "1.weight",
                "1.bias",
                "1.running_mean",
                "1.running_var",
                "1.num_batches_tracked",
                "4.weight",
                "4.bias"),
            sd.keySet());
      } finally {
        sd.values().forEach(NDArray::close);
      }
    }
  }

  @Test
  void loadStateDictRejectsMissingExtraAndMisshapenKeys() {
    try (Sequential model = convNet(0);
        MemoryScope s = MemoryScope.open()) {
      Map<String, NDArray> good = model.stateDict();
      NDArray w4 = good.get("4.weight");

      Map<String, NDArray> missing = new java.util.LinkedHashMap<>(good);
      missing.remove("4.bias");
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> model.loadStateDict(missing, true));
      assertTrue(e.getMessage().contains("4.bias"), e.getMessage());

      Map<String, NDArray> extra = new java.util.LinkedHashMap<>(good);
      extra.put("5.weight", NDArray.zeros(DType.FLOAT32, 2));
      e = assertThrows(IllegalArgumentException.class, () -> model.loadStateDict(extra, true));
      assertTrue(e.getMessage().contains("5.weight"), e.getMessage());

      Map<String, NDArray> misshapen = new java.util.LinkedHashMap<>(good);
      misshapen.put("4.weight", NDArray.zeros(DType.FLOAT32, 8, 3));
      e = assertThrows(IllegalArgumentException.class, () -> model.loadStateDict(misshapen, true));
      assertTrue(e.getMessage().contains("4.weight"), e.getMessage());

      // nothing was changed by the failed loads, and the good dict loads
      float[] before = w4.toFloatArray();
      model.loadStateDict(good, true);
      assertArrayEquals(before, model.namedParameters().get("4.weight").data().toFloatArray());
    }
  }

  @Test
  void loadedValuesAreCopiedAndConverted() {
    try (Linear fc = new Linear(2, 1, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      NDArray w = NDArray.of(new double[] {3, 4}, 1, 2);
      fc.loadStateDict(state("weight", w, "bias", NDArray.of(new double[] {1}, 1)), true);
      w.fill(0); // the module holds a copy
      assertEquals(DType.FLOAT32, fc.weight().dtype());
      try (NoGrad ignored = NoGrad.enter()) {
        Tensor y = fc.forward(Tensor.of(NDArray.of(new float[] {1, 1}, 1, 2)));
        assertEquals(8, y.item(), 1e-6);
      }
    }
  }
}
