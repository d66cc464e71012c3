package org.emberdl.optim;

import static org.emberdl.optim.SgdTest.d;
import static org.emberdl.optim.TestModules.setGrad;
import static org.emberdl.optim.TestModules.values;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Gradients;
import org.emberdl.nn.MSELoss;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;
import org.emberdl.optim.TestModules.Params;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class OptimizerTest {
  static final float[] W = {0.5f, -1.5f, 2f};
  static final float[] B = {0.25f, 1f};

  static Stream<Arguments> optimizers() {
    return Stream.of(
        Arguments.of("sgd", (Function<Module, Optimizer>) m -> new Sgd(m, 0.1)),
        Arguments.of(
            "sgd-nesterov",
            (Function<Module, Optimizer>)
                m -> Sgd.builder().lr(0.1).momentum(0.9).nesterov(true).weightDecay(0.01).build(m)),
        Arguments.of(
            "adam",
            (Function<Module, Optimizer>) m -> Adam.builder().lr(0.05).weightDecay(0.01).build(m)),
        Arguments.of("adamw", (Function<Module, Optimizer>) m -> new AdamW(m, 0.05)));
  }

  /** One training step on a nonlinear loss, so the gradient depends on the parameters. */
  static void trainStep(Module m, Optimizer opt) {
    opt.zeroGrad();
    try (MemoryScope s = MemoryScope.open()) {
      List<Parameter> ps = m.parameters();
      Tensor h = ps.get(0).tanh().sum().mul(ps.get(1)).add(ps.get(1).square());
      new MSELoss().apply(h, NDArray.of(new float[] {1, -1})).backward();
    }
    opt.step();
  }

  /** Copies of a module's parameters (its stateDict holds live views). */
  static Map<String, NDArray> snapshot(Module m) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    Map<String, NDArray> live = m.stateDict();
    for (Map.Entry<String, NDArray> e : live.entrySet()) {
      out.put(e.getKey(), MemoryScope.detach(e.getValue().copy()));
      e.getValue().close();
    }
    return out;
  }

  static void closeAll(Map<String, NDArray> map) {
    map.values().forEach(NDArray::close);
  }

  /**
   * Train 3 steps, save model and optimizer state, train 2 more; a fresh model and optimizer (with
   * another learning rate, restored from the state) resumed from the save reach the same parameters
   * bit for bit.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("optimizers")
  void stateDictResumesExactly(String name, Function<Module, Optimizer> make) {
    float[] straight;
    Map<String, NDArray> savedModel;
    Map<String, NDArray> savedOpt = new LinkedHashMap<>();
    try (Params m = new Params(W, B);
        Optimizer opt = make.apply(m)) {
      for (int i = 0; i < 3; i++) {
        trainStep(m, opt);
      }
      savedModel = snapshot(m);
      for (Map.Entry<String, NDArray> e : opt.stateDict().entrySet()) {
        savedOpt.put(e.getKey(), MemoryScope.detach(e.getValue()));
      }
      for (int i = 0; i < 2; i++) {
        trainStep(m, opt);
      }
      straight = values(m);
    }
    try (Params m = new Params(new float[] {9, 9, 9}, new float[] {9, 9});
        Optimizer opt = make.apply(m)) {
      opt.setLearningRate(123);
      m.loadStateDict(savedModel, true);
      opt.loadStateDict(savedOpt);
      assertEquals(3, opt.stepCount());
      assertNotEquals(123, opt.learningRate());
      for (int i = 0; i < 2; i++) {
        trainStep(m, opt);
      }
      assertArrayEquals(straight, values(m), name);
    } finally {
      closeAll(savedModel);
      closeAll(savedOpt);
    }
  }

  @Test
  void stateDictKeys() {
    try (Params m = new Params(W);
        Adam adam = new Adam(m, 0.1);
        Sgd sgd = new Sgd(m, 0.1, 0.9);
        MemoryScope s = MemoryScope.open()) {
      // like PyTorch, the buffers exist from the first step on
      assertEquals(
          List.of("step", "lr", "beta1", "beta2", "eps", "weight_decay"),
          new ArrayList<>(adam.stateDict().keySet()));
      setGrad(m, 1, 1, 1);
      adam.step();
      sgd.step();
      Map<String, NDArray> a = adam.stateDict();
      assertTrue(a.keySet().containsAll(List.of("exp_avg", "exp_avg_sq")), a.keySet().toString());
      assertArrayEquals(new int[] {3}, a.get("exp_avg").shape());
      assertEquals(0, a.get("step").ndim());
      Map<String, NDArray> g = sgd.stateDict();
      assertTrue(g.containsKey("momentum_buffer"), g.keySet().toString());
      assertEquals(0.9, g.get("momentum").item());
      // Adam state into SGD, and a buffer of the wrong size, are rejected
      assertThrows(IllegalArgumentException.class, () -> sgd.loadStateDict(a));
      Map<String, NDArray> wrong = new LinkedHashMap<>(a);
      wrong.put("exp_avg", NDArray.zeros(org.emberdl.tensor.DType.FLOAT32, 4));
      assertThrows(IllegalArgumentException.class, () -> adam.loadStateDict(wrong));
      Map<String, NDArray> badBeta = new LinkedHashMap<>(a);
      badBeta.put("beta1", NDArray.scalar(1.5, org.emberdl.tensor.DType.FLOAT64));
      assertThrows(IllegalArgumentException.class, () -> adam.loadStateDict(badBeta));
      assertEquals(0.9, adam.beta1());
      assertEquals(1, adam.stepCount());
    }
  }

  /**
   * A flat gradient from elsewhere (the driver's averaged update) steps exactly as the same values
   * written into the module's own gradients; so do per-parameter gradients.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("optimizers")
  void stepWithGradientsFromElsewhere(String name, Function<Module, Optimizer> make) {
    float[] grad = {0.3f, -0.2f, 1.5f, -4f, 0.01f};
    try (Params own = new Params(W, B);
        Params flat = new Params(W, B);
        Params split = new Params(W, B);
        Optimizer a = make.apply(own);
        Optimizer b = make.apply(flat);
        Optimizer c = make.apply(split)) {
      for (int i = 0; i < 2; i++) {
        setGrad(own, grad);
        a.step();
        try (MemoryScope s = MemoryScope.open()) {
          NDArray update = NDArray.of(grad);
          try (Gradients g = Gradients.fromFlat(flat, update)) {
            b.step(g);
          }
          NDArray w = NDArray.of(Arrays.copyOfRange(grad, 0, 3));
          NDArray bias = NDArray.of(Arrays.copyOfRange(grad, 3, 5));
          try (Gradients g = Gradients.of(List.of(w, bias))) {
            c.step(g);
          }
          // the given gradients are read, never written
          assertArrayEquals(grad, update.toFloatArray());
        }
      }
      assertArrayEquals(values(own), values(flat), name);
      assertArrayEquals(values(own), values(split), name);
    }
  }

  /** A missing per-parameter gradient counts as zero; a float64 flat gradient is converted. */
  @Test
  void missingAndFloat64Gradients() {
    try (Params m = new Params(W, B);
        Sgd opt = new Sgd(m, 1);
        MemoryScope s = MemoryScope.open()) {
      List<NDArray> grads = new ArrayList<>();
      grads.add(null);
      grads.add(NDArray.of(new float[] {1, 1}));
      try (Gradients g = Gradients.of(grads)) {
        opt.step(g);
      }
      assertClose(new double[] {0.5, -1.5, 2, -0.75, 0}, d(values(m)), 1e-6);
      try (Gradients g = Gradients.fromFlat(m, NDArray.of(new double[] {1, 1, 1, 0, 0}))) {
        opt.step(g);
      }
      assertClose(new double[] {-0.5, -2.5, 1, -0.75, 0}, d(values(m)), 1e-6);
      try (Gradients g = Gradients.of(List.of(NDArray.of(new float[] {1, 2, 3})))) {
        assertThrows(IllegalArgumentException.class, () -> opt.step(g));
      }
    }
  }

  /** A parameter with requiresGrad off is not changed, even by weight decay. */
  @Test
  void frozenParametersStayPut() {
    try (Params m = new Params(W, B);
        AdamW opt = new AdamW(m, 0.1)) {
      m.parameters().get(0).requiresGrad(false);
      setGrad(m, 1, 1, 1, 1, 1);
      opt.step();
      float[] v = values(m);
      assertArrayEquals(W, Arrays.copyOfRange(v, 0, 3));
      assertNotEquals(B[0], v[3]);
    }
  }

  @Test
  void zeroGradAndLearningRate() {
    try (Params m = new Params(W);
        Sgd opt = new Sgd(m, 0.1)) {
      setGrad(m, 1, 2, 3);
      opt.zeroGrad();
      assertArrayEquals(new float[3], m.flatParameters().grads().toFloatArray());
      opt.setLearningRate(0.5);
      assertEquals(0.5, opt.learningRate());
      assertThrows(IllegalArgumentException.class, () -> opt.setLearningRate(-1));
      assertThrows(IllegalArgumentException.class, () -> opt.setLearningRate(Double.NaN));
    }
  }
}
