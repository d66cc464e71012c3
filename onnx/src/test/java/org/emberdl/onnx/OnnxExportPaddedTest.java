package org.emberdl.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.nn.NetworkSpec;
import org.emberdl.nn.PaddedSequenceNetwork;
import org.emberdl.nn.Sequential;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A {@link PaddedSequenceNetwork} exported to ONNX scores right-padded id sequences in ONNX Runtime
 * as Ember does: each sequence's length reaches the recurrent layers, attention, the poolings and
 * the class token in the graph. (That Ember's own forward gives each padded row what its trimmed
 * sequence gives alone is {@code NetworkSpecTokenTest}'s.)
 */
class OnnxExportPaddedTest {
  /** Rows of lengths 2, 5, 1 and 3, right-padded with 0 to T = 5, and two more of 4 and 5. */
  private static final long[] IDS = {
    3, 5, 0, 0, 0, 7, 1, 2, 4, 8, 6, 0, 0, 0, 0, 2, 8, 1, 0, 0, 1, 1, 7, 3, 0, 4, 2, 6, 5, 3
  };

  @ParameterizedTest
  @ValueSource(
      strings = {
        "lstm(6), lastStep, linear(3)",
        "gru(5, layers=2, bidirectional), lastStep, linear(3)",
        "lstm(4, bidirectional), meanPool, linear(2)",
        "meanPool, linear(2)",
        "attention(2), meanPool, linear(3)",
        "posEmbedding(sinusoidal), attention(4), lastStep",
        "transformer(4, 2, 8, layers=2, dropout=0), meanPool, linear(2)",
        "clsToken, posEmbedding, transformer(4, 2, 6, dropout=0, prenorm, gelu), clsPool, linear(3)",
        "linear(6), attention(3), lstm(5), lastStep",
      })
  void onnxRuntimeMatchesEmberOnPaddedRows(String rest) throws Exception {
    Generator gen = new Generator(7);
    try (Sequential net =
        NetworkSpec.build("embedding(9, 4, pad=0), " + rest, new int[] {5}, gen)) {
      assertTrue(net instanceof PaddedSequenceNetwork);
      OnnxExportLayerTest.randomizeState(net, gen);
      byte[] onnx = Onnx.toModelProto(net, new long[] {4, 5}).toByteArray();
      for (int rows : new int[] {4, 6}) {
        long[] ids = java.util.Arrays.copyOf(IDS, rows * 5);
        try (NDArray x = NDArray.of(ids, rows, 5)) {
          OrtRunner.assertSameOutput(onnx, net, x, OnnxExportLayerTest.tolerance(rest));
        }
      }
    }
  }

  /** A negative padding id counts from the end of the vocabulary, in the graph as in Ember. */
  @ParameterizedTest
  @ValueSource(strings = {"lstm(3), lastStep", "attention(2), meanPool"})
  void negativePaddingIdCountsFromTheEnd(String rest) throws Exception {
    Generator gen = new Generator(3);
    try (Sequential net =
        NetworkSpec.build("embedding(6, 4, pad=-1), " + rest, new int[] {3}, gen)) {
      assertEquals(5, ((PaddedSequenceNetwork) net).paddingId());
      OnnxExportLayerTest.randomizeState(net, gen);
      byte[] onnx = Onnx.toModelProto(net, new long[] {3, 3}).toByteArray();
      try (NDArray x = NDArray.of(new long[] {1, 5, 5, 2, 3, 4, 0, 0, 5}, 3, 3)) {
        OrtRunner.assertSameOutput(onnx, net, x, 1e-4);
      }
    }
  }
}
