package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f32;
import static org.emberdl.nn.NnTesting.state;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class BatchNormTest {
  private static final double EPS = 1e-5;

  /** x (4, 2): column 0 = [1, 2, 3, 4], column 1 = [0, 0, 2, 2]. */
  private static Tensor batch() {
    return f32(d(1, 0, 2, 0, 3, 2, 4, 2), 4, 2);
  }

  @Test
  void batchNorm1dTrainingStepByHand() {
    try (BatchNorm1d bn = new BatchNorm1d(2);
        MemoryScope s = MemoryScope.open()) {
      // weight [2, 1], bias [0, 3]
      bn.loadStateDict(
          state(
              "weight", NDArray.of(new float[] {2, 1}, 2),
              "bias", NDArray.of(new float[] {0, 3}, 2),
              "running_mean", NDArray.zeros(DType.FLOAT32, 2),
              "running_var", NDArray.ones(DType.FLOAT32, 2),
              "num_batches_tracked", NDArray.scalar(0, DType.INT64)),
          true);
      Tensor y = bn.forward(batch());
      // column 0: mean 2.5, biased var (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25, unbiased 5/3
      // column 1: mean 1, biased var 1, unbiased 4/3
      double s0 = 2 / Math.sqrt(1.25 + EPS);
      double s1 = 1 / Math.sqrt(1 + EPS);
      assertClose(
          d(-1.5 * s0, -s1 + 3, -0.5 * s0, -s1 + 3, 0.5 * s0, s1 + 3, 1.5 * s0, s1 + 3),
          y.data(),
          1e-6);
      // running_mean = 0.9 * 0 + 0.1 * mean; running_var = 0.9 * 1 + 0.1 * unbiased var
      assertClose(d(0.25, 0.1), bn.runningMean(), 1e-6);
      assertClose(d(0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 4 / 3), bn.runningVar(), 1e-6);
      assertEquals(1, bn.numBatchesTracked());

      // a second step moves the running stats again: 0.9 * 0.25 + 0.1 * 2.5
      bn.forward(batch());
      assertClose(d(0.475, 0.19), bn.runningMean(), 1e-6);
      assertEquals(2, bn.numBatchesTracked());

      // eval uses the running statistics and changes none of them
      bn.eval();
      double rm0 = 0.475;
      double rv0 = 0.9 * (0.9 + 0.1 * 5 / 3) + 0.1 * 5 / 3;
      double rm1 = 0.19;
      double rv1 = 0.9 * (0.9 + 0.1 * 4 / 3) + 0.1 * 4 / 3;
      Tensor e = bn.forward(f32(d(1, 0), 1, 2));
      assertClose(
          d((1 - rm0) / Math.sqrt(rv0 + EPS) * 2, (0 - rm1) / Math.sqrt(rv1 + EPS) + 3),
          e.data(),
          1e-6);
      assertEquals(2, bn.numBatchesTracked());
      assertClose(d(0.475, 0.19), bn.runningMean(), 1e-6);
    }
  }

  @Test
  void batchNorm2dTinyBatchByHand() {
    try (BatchNorm2d bn = new BatchNorm2d(1);
        MemoryScope s = MemoryScope.open()) {
      // (N=2, C=1, H=1, W=2): values 1, 3, 5, 7: mean 4, biased var (9 + 1 + 1 + 9) / 4 = 5,
      // unbiased 20 / 3
      Tensor y = bn.forward(f32(d(1, 3, 5, 7), 2, 1, 1, 2));
      double inv = 1 / Math.sqrt(5 + EPS);
      assertArrayEquals(new int[] {2, 1, 1, 2}, y.shape());
      assertClose(d(-3 * inv, -inv, inv, 3 * inv), y.data(), 1e-6);
      assertClose(d(0.4), bn.runningMean(), 1e-6);
      assertClose(d(0.9 + 0.1 * 20 / 3), bn.runningVar(), 1e-6);
    }
  }

  @Test
  void batchNorm1dOn3dInputReducesOverBatchAndLength() {
    try (BatchNorm1d bn = new BatchNorm1d(1);
        MemoryScope s = MemoryScope.open()) {
      // (N=2, C=1, L=2): 1, 2, 3, 6: mean 3, biased var (4 + 1 + 0 + 9) / 4 = 3.5, unbiased 14/3
      Tensor y = bn.forward(f32(d(1, 2, 3, 6), 2, 1, 2));
      double inv = 1 / Math.sqrt(3.5 + EPS);
      assertClose(d(-2 * inv, -inv, 0, 3 * inv), y.data(), 1e-6);
      assertClose(d(0.3), bn.runningMean(), 1e-6);
      assertClose(d(0.9 + 0.1 * 14 / 3), bn.runningVar(), 1e-6);
    }
  }

  @Test
  void channelsAreNormalizedIndependently() {
    try (BatchNorm2d bn = new BatchNorm2d(3);
        MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.normal(new Generator(1), DType.FLOAT32, 5, 2, 6, 3, 4, 4);
      NDArray y = bn.forward(Tensor.of(x)).data();
      int[] dims = {0, 2, 3};
      assertClose(d(0, 0, 0), y.mean(dims, false), 1e-5);
      assertClose(d(1, 1, 1), y.var(dims, 0, false), 1e-4);
      NDArray mean = x.mean(dims, false);
      NDArray unbiased = x.var(dims, 1, false);
      assertClose(mean.mul(0.1).toDoubleArray(), bn.runningMean(), 1e-5);
      assertClose(unbiased.mul(0.1).add(0.9).toDoubleArray(), bn.runningVar(), 1e-5);
    }
  }

  @Test
  void trainAndEvalDiffer() {
    try (BatchNorm1d bn = new BatchNorm1d(2);
        MemoryScope s = MemoryScope.open()) {
      bn.eval();
      // fresh running stats are mean 0, var 1: eval is x / sqrt(1 + eps)
      Tensor e = bn.forward(batch());
      double k = 1 / Math.sqrt(1 + EPS);
      assertClose(d(k, 0, 2 * k, 0, 3 * k, 2 * k, 4 * k, 2 * k), e.data(), 1e-6);
      assertEquals(0, bn.numBatchesTracked());
      assertClose(d(0, 0), bn.runningMean(), 0);
      bn.train();
      Tensor t = bn.forward(batch());
      assertFalse(java.util.Arrays.equals(e.data().toFloatArray(), t.data().toFloatArray()));
      assertEquals(1, bn.numBatchesTracked());
    }
  }

  @Test
  void momentumNoneIsACumulativeAverage() {
    try (BatchNorm1d bn = new BatchNorm1d(1, 1e-5, null, true, true);
        MemoryScope s = MemoryScope.open()) {
      bn.forward(f32(d(1, 3), 2, 1)); // mean 2, unbiased var 2
      bn.forward(f32(d(4, 8), 2, 1)); // mean 6, unbiased var 8
      // factors 1/1 then 1/2: the plain average of the batch statistics
      assertClose(d(4), bn.runningMean(), 1e-6);
      assertClose(d(5), bn.runningVar(), 1e-6);
      assertEquals(
          "BatchNorm1d(1, eps=1e-05, momentum=None, affine=True, track_running_stats=True)",
          bn.toString());
    }
  }

  @Test
  void stateDictHasTorchsKeysShapesAndDtypes() {
    try (BatchNorm2d bn = new BatchNorm2d(4)) {
      Map<String, NDArray> sd = bn.stateDict();
      try {
        assertEquals(
            List.of("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
            List.copyOf(sd.keySet()));
        for (String k : List.of("weight", "bias", "running_mean", "running_var")) {
          assertArrayEquals(new int[] {4}, sd.get(k).shape(), k);
          assertEquals(DType.FLOAT32, sd.get(k).dtype(), k);
        }
        assertClose(d(1, 1, 1, 1), sd.get("weight"), 0);
        assertClose(d(0, 0, 0, 0), sd.get("bias"), 0);
        assertClose(d(1, 1, 1, 1), sd.get("running_var"), 0);
        NDArray count = sd.get("num_batches_tracked");
        assertEquals(DType.INT64, count.dtype());
        assertEquals(0, count.ndim());
        assertEquals(List.of("weight", "bias"), List.copyOf(bn.namedParameters().keySet()));
      } finally {
        sd.values().forEach(NDArray::close);
      }
      assertEquals(
          "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
          bn.toString());
    }
  }

  @Test
  void withoutAffineOrTrackingThereIsNoState() {
    try (BatchNorm2d bn = new BatchNorm2d(2, 1e-5, 0.1, false, false);
        MemoryScope s = MemoryScope.open()) {
      assertTrue(bn.stateDict().isEmpty());
      assertNull(bn.weight());
      assertNull(bn.runningMean());
      // batch statistics in eval mode too
      bn.eval();
      Tensor y = bn.forward(f32(d(1, 0, 3, 4), 2, 2, 1, 1));
      double inv0 = 1 / Math.sqrt(1 + EPS);
      double inv1 = 1 / Math.sqrt(4 + EPS);
      assertClose(d(-inv0, -2 * inv1, inv0, 2 * inv1), y.data(), 1e-6);
    }
  }

  @Test
  void invalidInputsAreRejected() {
    try (BatchNorm2d bn2 = new BatchNorm2d(3);
        BatchNorm1d bn1 = new BatchNorm1d(3);
        MemoryScope s = MemoryScope.open()) {
      assertThrows(
          IllegalArgumentException.class,
          () -> bn2.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 3, 4))));
      assertThrows(
          IllegalArgumentException.class,
          () -> bn2.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 4, 2, 2))));
      assertThrows(
          IllegalArgumentException.class,
          () -> bn1.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 3, 4, 4))));
      // one value per channel has no variance
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> bn1.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 1, 3))));
      assertTrue(e.getMessage().contains("more than 1 value per channel"));
      assertEquals(0, bn1.numBatchesTracked(), "a rejected batch is not counted");
      bn1.eval();
      assertArrayEquals(
          new int[] {1, 3}, bn1.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 1, 3))).shape());
    }
  }

  @Test
  void sumOfTheOutputHasNoInputGradient() {
    try (BatchNorm2d bn = new BatchNorm2d(2);
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(5), DType.FLOAT32, 3, 2, 2, 2), true);
      bn.forward(x).sum().backward();
      // with weight 1, bias 0 each channel of y sums to 0 whatever x is
      assertTrue(x.grad().abs().max().item() < 1e-5);
      assertClose(d(12, 12), bn.bias().grad(), 1e-6);
      assertClose(d(0, 0), bn.weight().grad(), 1e-5);
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    try (BatchNorm2d bn = new BatchNorm2d(3, 1e-5, 0.1, true, true, DType.FLOAT64);
        BatchNorm1d bn1 = new BatchNorm1d(3, 1e-5, 0.1, true, true, DType.FLOAT64);
        MemoryScope s = MemoryScope.open()) {
      Generator g = new Generator(6);
      bn.loadStateDict(
          state(
              "weight", NDArray.uniform(g, DType.FLOAT64, 0.5, 2, 3),
              "bias", NDArray.randn(g, DType.FLOAT64, 3),
              "running_mean", NDArray.randn(g, DType.FLOAT64, 3),
              "running_var", NDArray.uniform(g, DType.FLOAT64, 0.5, 2, 3),
              "num_batches_tracked", NDArray.scalar(0, DType.INT64)),
          true);
      NDArray x = NDArray.randn(g, DType.FLOAT64, 2, 3, 2, 3);
      // training: batch statistics
      NnTesting.checkInputGradient(bn, x);
      NnTesting.checkParameterGradients(bn, x);
      GradCheck.defaults()
          .check(
              t -> BatchNorm.batchNorm(t[0], null, null, t[1], t[2], true, 0.1, 1e-5),
              x,
              bn.weight().data(),
              bn.bias().data());
      // eval: running statistics
      bn.eval();
      NnTesting.checkInputGradient(bn, x);
      NnTesting.checkParameterGradients(bn, x);
      NDArray x1 = NDArray.randn(g, DType.FLOAT64, 4, 3, 5);
      NnTesting.checkInputGradient(bn1, x1);
      NnTesting.checkParameterGradients(bn1, x1);
    }
  }
}
