package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f32;
import static org.emberdl.nn.NnTesting.state;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.UnaryOp;
import org.junit.jupiter.api.Test;

/**
 * Linear's forward without a graph (one fused kernel) and Sequential's Linear+ReLU pairing: same
 * values as the recorded ops, nothing recorded under {@link NoGrad}, gradients unchanged with a
 * graph, and overridden modules left alone.
 */
class FusedLinearInferenceTest {
  // W = [[1, 2, 3], [4, 5, 6]], b = [0.5, -1], x = [[1, 0, -1], [2, 1, 0]]
  // x W^T + b = [[-1.5, -3], [4.5, 12]]; relu = [[0, 0], [4.5, 12]]
  private static Linear handLayer() {
    Linear fc = new Linear(3, 2, new Generator(0));
    try (MemoryScope s = MemoryScope.open()) { // frees the state's arrays once copied in
      fc.loadStateDict(
          state(
              "weight", NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3),
              "bias", NDArray.of(new float[] {0.5f, -1}, 2)),
          true);
    }
    return fc;
  }

  @Test
  void noGradForwardIsFusedAndRecordsNothing() {
    try (Linear fc = handLayer();
        MemoryScope s = MemoryScope.open()) {
      Tensor x = f32(d(1, 0, -1, 2, 1, 0), 2, 3);
      try (NoGrad ng = NoGrad.enter()) {
        Tensor y = fc.forward(x);
        assertClose(d(-1.5, -3, 4.5, 12), y.data(), 1e-6);
        assertNull(y.gradFn());
        assertFalse(y.requiresGrad());
        Tensor r = fc.forward(x, UnaryOp.RELU);
        assertClose(d(0, 0, 4.5, 12), r.data(), 1e-6);
        assertNull(r.gradFn());
      }
      // with a graph the same call records it: the relu's gradient masks the negative row
      Tensor r = fc.forward(x, UnaryOp.RELU);
      assertNotNull(r.gradFn());
      r.sum().backward();
      // only row 1 passes the relu: dW[o] = x1 = [2, 1, 0], db = [1, 1]
      assertClose(d(2, 1, 0, 2, 1, 0), fc.weight().grad(), 1e-6);
      assertClose(d(1, 1), fc.bias().grad(), 1e-6);
    }
  }

  @Test
  void sequentialPairsLinearWithReluWithAndWithoutAGraph() {
    Generator gen = new Generator(3);
    try (Sequential net =
            new Sequential(
                new Linear(784, 32, gen),
                new ReLU(),
                new Linear(32, 16, gen),
                new ReLU(),
                new Linear(16, 10, gen));
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(4), DType.FLOAT32, 9, 784));
      // the reference: the modules one by one, with a graph (recorded matmul, add, relu)
      Tensor h = x;
      for (Module m : net) {
        h = m.forward(h);
      }
      assertNotNull(h.gradFn());
      Tensor withGraph = net.forward(x);
      assertNotNull(withGraph.gradFn());
      assertClose(h.data().toDoubleArray(), withGraph.data(), 0);
      try (NoGrad ng = NoGrad.enter()) {
        Tensor fused = net.forward(x);
        assertNull(fused.gradFn());
        // the bias is added before the products instead of after: float rounding only
        assertClose(h.data().toDoubleArray(), fused.data(), 1e-5);
      }
    }
  }

  @Test
  void aReluSubclassIsNotFused() {
    // the override doubles instead of clamping: fusing would have applied max(., 0)
    ReLU doubling =
        new ReLU() {
          @Override
          public Tensor forward(Tensor input) {
            return input.mul(2);
          }
        };
    try (Sequential net = new Sequential(handLayer(), doubling);
        MemoryScope s = MemoryScope.open();
        NoGrad ng = NoGrad.enter()) {
      Tensor y = net.forward(f32(d(1, 0, -1, 2, 1, 0), 2, 3));
      assertClose(d(-3, -6, 9, 24), y.data(), 1e-6);
    }
  }

  @Test
  void gradCheckOfLinearReluThroughSequential() {
    // analytic gradients from the recorded ops; GradCheck's numeric ones from forwards without a
    // graph, i.e. through the fused kernel
    Generator gen = new Generator(7);
    NDArray w = NDArray.randn(gen, DType.FLOAT64, 4, 6);
    NDArray b = NDArray.randn(gen, DType.FLOAT64, 4);
    NDArray x = NDArray.randn(gen, DType.FLOAT64, 5, 6);
    GradCheck.defaults().check(in -> Linear.linear(in[0], in[1], in[2], UnaryOp.RELU), x, w, b);
    GradCheck.defaults().check(in -> Linear.linear(in[0], in[1], in[2], UnaryOp.TANH), x, w, b);
    w.close();
    b.close();
    x.close();
  }
}
