package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f64;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.Test;

/** {@code lstm}, {@code gru}, {@code lastStep} and {@code meanPool} in {@link NetworkSpec}. */
class NetworkSpecRecurrentTest {
  private static final int[] ROWS = {28, 28}; // Fashion-MNIST as 28 steps of 28 pixels

  private static String error(String spec, int... inputShape) {
    String built =
        assertThrows(
                IllegalArgumentException.class,
                () -> NetworkSpec.build(spec, inputShape, new Generator(0)).close())
            .getMessage();
    assertEquals(
        built,
        assertThrows(
                IllegalArgumentException.class, () -> NetworkSpec.outputShape(spec, inputShape))
            .getMessage());
    return built;
  }

  @Test
  void shapesFollowTheSequence() {
    assertArrayEquals(new int[] {28, 16}, NetworkSpec.outputShape("lstm(16)", ROWS));
    // bidirectional: both directions' H side by side
    assertArrayEquals(
        new int[] {28, 16}, NetworkSpec.outputShape("gru(8, layers=2, bidirectional)", ROWS));
    assertArrayEquals(
        new int[] {10}, NetworkSpec.outputShape("lstm(16), lastStep, linear(10)", ROWS));
    assertArrayEquals(
        new int[] {6}, NetworkSpec.outputShape("LSTM(3, Bidirectional), meanPool", ROWS));
  }

  @Test
  void stateDictHasPytorchKeysAndMatchesWhatBuildRegisters() {
    String spec = "lstm(5, layers=2, bidirectional), meanPool, linear(3)";
    List<Safetensors.TensorInfo> shapes = NetworkSpec.stateDictShapes(spec, new int[] {7, 4});
    // by hand: layer 0 reads 4 features, layer 1 both directions of layer 0 (2 * 5 = 10); 4 * 5
    // gate rows; linear on 2 * 5 features
    assertEquals(
        new Safetensors.TensorInfo("0.weight_ih_l0", DType.FLOAT32, new int[] {20, 4}, 320),
        shapes.get(0));
    assertEquals(
        new Safetensors.TensorInfo(
            "0.weight_ih_l1_reverse", DType.FLOAT32, new int[] {20, 10}, 800),
        shapes.get(12));
    assertEquals(
        new Safetensors.TensorInfo("2.weight", DType.FLOAT32, new int[] {3, 10}, 120),
        shapes.get(16));
    for (String s : List.of(spec, "gru(4), lastStep")) {
      List<Safetensors.TensorInfo> built = new ArrayList<>();
      try (Sequential net = NetworkSpec.build(s, new int[] {7, 4}, new Generator(0))) {
        Map<String, NDArray> state = net.stateDict();
        state.forEach(
            (k, v) ->
                built.add(
                    new Safetensors.TensorInfo(
                        k, v.dtype(), v.shape(), v.numel() * v.dtype().byteSize())));
        state.values().forEach(NDArray::close);
      }
      assertEquals(built, NetworkSpec.stateDictShapes(s, new int[] {7, 4}), s);
    }
  }

  @Test
  void forwardTakesBatchFirstSequences() {
    try (Sequential net =
            NetworkSpec.build(
                "gru(4, bidirectional), lastStep, linear(3)", new int[] {6, 2}, new Generator(1));
        MemoryScope s = MemoryScope.open()) {
      Tensor y = net.forward(Tensor.of(NDArray.randn(new Generator(2), DType.FLOAT32, 5, 6, 2)));
      assertArrayEquals(new int[] {5, 3}, y.shape());
    }
  }

  @Test
  void lastStepAndMeanPoolByHand() {
    try (MemoryScope s = MemoryScope.open()) {
      // one sequence of 3 steps: [1, 2], [3, 4], [5, 6]
      Tensor x = Tensor.of(NDArray.of(new double[] {1, 2, 3, 4, 5, 6}, 1, 3, 2), true);
      Tensor last = new LastStep().forward(x);
      assertClose(d(5, 6), last.data(), 0);
      last.sum().backward();
      assertClose(d(0, 0, 0, 0, 1, 1), x.grad(), 0);
      x.zeroGrad(true);
      Tensor mean = new MeanPool().forward(x);
      // (1 + 3 + 5) / 3 = 3, (2 + 4 + 6) / 3 = 4; each step gets 1/3 of the gradient
      assertClose(d(3, 4), mean.data(), 1e-15);
      mean.sum().backward();
      double third = 1.0 / 3;
      assertClose(d(third, third, third, third, third, third), x.grad(), 1e-15);
      assertThrows(IllegalArgumentException.class, () -> new LastStep().forward(f64(d(1, 2), 2)));
      x.close();
    }
  }

  @Test
  void badRecurrentLayersAreNamed() {
    assertEquals(
        "network spec, layer 1 'lstm(8)' at column 1: lstm needs a (T, F) sequence input (time"
            + " steps, features) but the shape here is (784) (give inputShape (T, F), and put"
            + " lastStep or meanPool after the recurrent layers, before linear)",
        error("lstm(8)", 784));
    assertEquals(
        "network spec, layer 1 'lastStep' at column 1: laststep needs a (T, F) sequence input"
            + " (time steps, features) but the shape here is (1, 28, 28)",
        error("lastStep", 1, 28, 28));
    assertEquals(
        "network spec, layer 1 'gru(8, bidirectional, bidirectional)' at column 23: argument"
            + " 'bidirectional' is given twice; expected gru(H[, layers=L][, bidirectional])",
        error("gru(8, bidirectional, bidirectional)", 28, 28));
    assertEquals(
        "network spec, layer 1 'lstm(0)' at column 6: hidden size H must be a positive integer,"
            + " got '0'; expected lstm(H[, layers=L][, bidirectional])",
        error("lstm(0)", 28, 28));
    assertEquals(
        "network spec, layer 1 'lstm(4, layers=0)' at column 16: number of layers L must be a"
            + " positive integer, got '0'; expected lstm(H[, layers=L][, bidirectional])",
        error("lstm(4, layers=0)", 28, 28));
    assertEquals(
        "network spec, layer 1 'relu(bidirectional)' at column 6: relu takes no arguments, got"
            + " 'bidirectional'; expected relu",
        error("relu(bidirectional)", 28, 28));
  }

  /**
   * The label is the sign of the first of 10 noisy steps, so only a network that carries it to the
   * last step can beat chance: trained end to end from the spec, LSTM and GRU both must.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"lstm(12)", "gru(12, bidirectional)"})
  void aRecurrentSpecLearnsToRememberTheFirstStep(String layer) {
    int steps = 10;
    try (Sequential net =
            NetworkSpec.build(
                layer + ", lastStep, linear(2)", new int[] {steps, 1}, new Generator(1));
        org.emberdl.optim.Adam adam = new org.emberdl.optim.Adam(net, 0.03);
        MemoryScope s = MemoryScope.open()) {
      CrossEntropyLoss loss = CrossEntropyLoss.builder().build();
      Generator data = new Generator(2);
      for (int it = 0; it < 150; it++) {
        try (MemoryScope step = MemoryScope.open()) {
          NDArray x = NDArray.randn(data, DType.FLOAT32, 64, steps, 1);
          adam.zeroGrad();
          loss.apply(net.forward(Tensor.of(x)), firstSign(x)).backward();
          adam.step();
        }
      }
      net.eval();
      NDArray x = NDArray.randn(new Generator(3), DType.FLOAT32, 500, steps, 1);
      long[] predicted = net.forward(Tensor.of(x)).data().argmax(1, false).toLongArray();
      long[] truth = firstSign(x).toLongArray();
      int correct = 0;
      for (int i = 0; i < truth.length; i++) {
        correct += predicted[i] == truth[i] ? 1 : 0;
      }
      assertTrue(correct > 475, layer + ": " + correct + " of 500 correct");
    }
  }

  private static NDArray firstSign(NDArray x) {
    try (NDArray first = x.select(1, 0).select(1, 0);
        NDArray positive = first.gt(0)) {
      return positive.cast(DType.INT64);
    }
  }
}
