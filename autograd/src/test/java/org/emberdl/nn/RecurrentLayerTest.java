package org.emberdl.nn;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class RecurrentLayerTest {
  /**
   * Inference (no graph recorded) frees everything the layer allocated once its outputs are closed:
   * no MemoryScope here, so the leak check after each test sees a view left unclosed (the h_n/c_n
   * selects of the packed result used to hold its storage).
   */
  @Test
  void aNoGradRunFreesEverythingWithItsOutputs() {
    Generator g = new Generator(1);
    for (boolean batchFirst : new boolean[] {true, false}) {
      for (RecurrentLayer m :
          List.of(
              LSTM.builder(5, 4).numLayers(2).bidirectional(true).batchFirst(batchFirst).build(g),
              GRU.builder(5, 4).batchFirst(batchFirst).build(g))) {
        try (m;
            Tensor x = Tensor.of(NDArray.uniform(g, DType.FLOAT32, -1, 1, 3, 6, 5));
            Tensor unbatched = Tensor.of(NDArray.uniform(g, DType.FLOAT32, -1, 1, 6, 5));
            org.emberdl.autograd.NoGrad ng = org.emberdl.autograd.NoGrad.enter()) {
          try (RecurrentOutput r = m.run(x)) {
            assertEquals(3, r.output().ndim());
          }
          try (Tensor y = m.forward(unbatched)) {
            assertEquals(2, y.ndim());
          }
        }
      }
    }
  }

  @Test
  void parametersHavePytorchNamesShapesAndInitBounds() {
    try (LSTM lstm = LSTM.builder(5, 4).numLayers(2).bidirectional(true).build(new Generator(1));
        GRU gru = GRU.builder(5, 4).bias(false).build(new Generator(1))) {
      Map<String, Parameter> p = lstm.namedParameters();
      assertEquals(
          List.of(
              "weight_ih_l0",
              "weight_hh_l0",
              "bias_ih_l0",
              "bias_hh_l0",
              "weight_ih_l0_reverse",
              "weight_hh_l0_reverse",
              "bias_ih_l0_reverse",
              "bias_hh_l0_reverse",
              "weight_ih_l1",
              "weight_hh_l1",
              "bias_ih_l1",
              "bias_hh_l1",
              "weight_ih_l1_reverse",
              "weight_hh_l1_reverse",
              "bias_ih_l1_reverse",
              "bias_hh_l1_reverse"),
          List.copyOf(p.keySet()));
      // 4 gates * H rows; layer 1 reads both directions of layer 0 (2H = 8 features)
      assertArrayEquals(new int[] {16, 5}, p.get("weight_ih_l0").shape());
      assertArrayEquals(new int[] {16, 4}, p.get("weight_hh_l0_reverse").shape());
      assertArrayEquals(new int[] {16, 8}, p.get("weight_ih_l1").shape());
      assertArrayEquals(new int[] {16}, p.get("bias_hh_l1_reverse").shape());
      // U(-1/sqrt(H), 1/sqrt(H)) = U(-0.5, 0.5), spread over the range
      for (Parameter w : p.values()) {
        double[] v = w.data().toDoubleArray();
        double max = 0;
        for (double x : v) {
          assertTrue(Math.abs(x) <= 0.5, "within 1/sqrt(H)");
          max = Math.max(max, Math.abs(x));
        }
        assertTrue(max > 0.3, "not degenerate");
      }
      assertEquals(
          List.of("weight_ih_l0", "weight_hh_l0"), List.copyOf(gru.namedParameters().keySet()));
      assertArrayEquals(new int[] {12, 5}, gru.namedParameters().get("weight_ih_l0").shape());
      assertEquals("LSTM(5, 4, num_layers=2, bidirectional=True)", lstm.toString());
      assertEquals("GRU(5, 4, bias=False)", gru.toString());
    }
  }

  /**
   * Each sequence of a variable-length batch gives what it gives alone, cut to its length (another
   * code path: no mask), with zero outputs past its end, in both directions.
   */
  @Test
  void lengthsEqualRunningEachSequenceAloneTruncated() {
    int steps = 5;
    int[] lengths = {3, 5, 1};
    try (LSTM lstm =
            LSTM.builder(2, 3)
                .numLayers(2)
                .bidirectional(true)
                .dtype(DType.FLOAT64)
                .build(new Generator(4));
        MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(5), DType.FLOAT64, steps, 3, 2);
      RecurrentOutput all = lstm.run(Tensor.of(x), lengths);
      for (int b = 0; b < 3; b++) {
        int len = lengths[b];
        NDArray xb = x.narrow(1, b, 1).narrow(0, 0, len);
        RecurrentOutput one = lstm.run(Tensor.of(xb.contiguous()));
        NDArray got = all.output().data().narrow(1, b, 1);
        assertClose(one.output().data().toDoubleArray(), got.narrow(0, 0, len), 1e-12);
        if (len < steps) {
          double[] past = got.narrow(0, len, steps - len).toDoubleArray();
          for (double v : past) {
            assertEquals(0.0, v, "output past the sequence's end");
          }
        }
        assertClose(one.hN().data().toDoubleArray(), all.hN().data().narrow(1, b, 1), 1e-12);
        assertClose(one.cN().data().toDoubleArray(), all.cN().data().narrow(1, b, 1), 1e-12);
      }
    }
  }

  /**
   * With dropout 1 in training, layer 1 sees zeros: the output is that of layer 1's weights alone
   * run on a zero sequence. In eval mode dropout is off.
   */
  @Test
  void dropoutBetweenLayersOnlyInTraining() {
    try (GRU gru =
            GRU.builder(2, 3)
                .numLayers(2)
                .dropout(1.0)
                .dtype(DType.FLOAT64)
                .build(new Generator(2));
        GRU top = GRU.builder(3, 3).dtype(DType.FLOAT64).build(new Generator(3));
        MemoryScope s = MemoryScope.open()) {
      Map<String, NDArray> l1 = new LinkedHashMap<>();
      gru.namedParameters()
          .forEach(
              (k, v) -> {
                if (k.endsWith("_l1")) {
                  l1.put(k.replace("_l1", "_l0"), v.data());
                }
              });
      top.loadStateDict(l1, true);
      NDArray x = NDArray.randn(new Generator(6), DType.FLOAT64, 4, 2, 2);
      gru.train();
      Tensor trained = gru.forward(Tensor.of(x.share()));
      Tensor ref = top.forward(Tensor.of(NDArray.zeros(DType.FLOAT64, 4, 2, 3)));
      assertClose(ref.data().toDoubleArray(), trained.data(), 1e-12);
      gru.eval();
      Tensor evaluated = gru.forward(Tensor.of(x.share()));
      double diff = evaluated.data().sub(trained.data()).abs().sum().item();
      assertTrue(diff > 1e-3, "eval mode must not drop: " + diff);
    }
  }

  @Test
  void unbatchedInputEqualsABatchOfOne() {
    try (LSTM lstm =
            LSTM.builder(2, 3).batchFirst(true).dtype(DType.FLOAT64).build(new Generator(8));
        MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(9), DType.FLOAT64, 4, 2);
      NDArray h0 = NDArray.randn(new Generator(10), DType.FLOAT64, 1, 3);
      RecurrentOutput u = lstm.run(Tensor.of(x), null, Tensor.of(h0), null);
      assertArrayEquals(new int[] {4, 3}, u.output().shape());
      assertArrayEquals(new int[] {1, 3}, u.hN().shape());
      RecurrentOutput b =
          lstm.run(Tensor.of(x.unsqueeze(0)), null, Tensor.of(h0.unsqueeze(1)), null);
      assertArrayEquals(new int[] {1, 4, 3}, b.output().shape());
      assertClose(b.output().data().toDoubleArray(), u.output().data(), 0);
      assertClose(b.cN().data().toDoubleArray(), u.cN().data(), 0);
    }
  }

  @Test
  void badArgumentsAreNamed() {
    try (LSTM lstm = LSTM.builder(2, 3).numLayers(2).build(new Generator(1));
        GRU gru = new GRU(2, 3, new Generator(1));
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.zeros(DType.FLOAT32, 4, 2, 2));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> lstm.run(Tensor.of(NDArray.zeros(DType.FLOAT32, 4, 2, 5))));
      assertEquals(
          "LSTM expects input (time, batch, 2) or unbatched (time, 2), got [4, 2, 5]",
          e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> lstm.run(x, new int[] {4, 0}));
      assertEquals(
          "length of sequence 1 is 0; lengths must be in [1, 4] (the number of time steps)",
          e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> lstm.run(x, new int[] {5, 1}));
      assertEquals(
          "length of sequence 0 is 5; lengths must be in [1, 4] (the number of time steps)",
          e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> lstm.run(x, new int[] {1, 2, 3}));
      assertEquals("LSTM got 3 lengths for a batch of 2 sequences", e.getMessage());
      Tensor badH = Tensor.of(NDArray.zeros(DType.FLOAT32, 1, 2, 3));
      e = assertThrows(IllegalArgumentException.class, () -> lstm.run(x, null, badH, null));
      assertEquals(
          "LSTM expects h0 float32[2, 2, 3] (num_layers * num_directions, batch, hidden_size),"
              + " got float32[1, 2, 3]",
          e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> gru.run(x, null, null, badH));
      assertEquals("a GRU has no cell state; pass c0 = null", e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> gru.run(Tensor.of(NDArray.zeros(DType.FLOAT64, 4, 2, 2))));
      assertEquals("GRU has float32 parameters but the input is float64", e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> GRU.builder(2, 3).dropout(1.5).build(new Generator(0)));
      assertEquals(
          "GRU dropout must be a number in [0, 1] (a probability), got 1.5", e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> LSTM.builder(2, 3).numLayers(0).build(new Generator(0)));
      assertEquals("LSTM needs num_layers >= 1, got 0", e.getMessage());
    }
  }

  @Test
  void forwardWithoutGradRecordsNothing() {
    try (LSTM lstm = new LSTM(2, 3, new Generator(1));
        MemoryScope s = MemoryScope.open();
        org.emberdl.autograd.NoGrad ng = org.emberdl.autograd.NoGrad.enter()) {
      Tensor y = lstm.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 4, 2, 2)));
      assertFalse(y.requiresGrad());
      assertArrayEquals(new int[] {4, 2, 3}, y.shape());
    }
  }

  /** With flat parameters (how Spark trains) the gradients land in the flat buffer, unchanged. */
  @Test
  void flatParametersGetTheSameGradients() {
    try (LSTM plain = LSTM.builder(2, 3).numLayers(2).dtype(DType.FLOAT64).build(new Generator(4));
        LSTM flat = LSTM.builder(2, 3).numLayers(2).dtype(DType.FLOAT64).build(new Generator(4));
        MemoryScope s = MemoryScope.open()) {
      FlatParameters buffers = flat.flatParameters();
      NDArray x = NDArray.randn(new Generator(5), DType.FLOAT64, 4, 2, 2);
      plain.forward(Tensor.of(x.share())).sum().backward();
      flat.forward(Tensor.of(x.share())).sum().backward();
      int at = 0;
      for (Parameter p : plain.parameters()) {
        int n = (int) p.data().numel();
        assertClose(p.grad().toDoubleArray(), buffers.grads().narrow(0, at, n), 0);
        at += n;
      }
      assertEquals(buffers.grads().numel(), at);
    }
  }
}
