package org.emberdl.onnx;

import static org.emberdl.onnx.OnnxFixtureTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.nn.Parameter;
import org.emberdl.nn.Sequential;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Ember -> ONNX -> Ember: an exported module loads back into a module with the same parameter names
 * that computes the same outputs (1e-5) and the same gradients, with respect to the input and to
 * every parameter (1e-4).
 */
class OnnxRoundTripTest {
  @TempDir Path dir;

  /** The exportable layers whose ONNX ops the importer reads (LSTM and GRU it does not yet). */
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> layers() {
    return OnnxExportLayerTest.layers()
        .filter(
            a -> {
              String name = a.get()[0].toString();
              return !name.startsWith("LSTM") && !name.startsWith("GRU");
            });
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("layers")
  void eachExportableLayerRoundTrips(OnnxExportLayerTest.Case c) throws Exception {
    Generator gen = new Generator(7);
    try (Module layer = c.make().apply(gen)) {
      OnnxExportLayerTest.randomizeState(layer, gen);
      layer.eval();
      long[] shape = Arrays.stream(c.shape()).asLongStream().toArray();
      byte[] onnx =
          Onnx.toModelProto(layer, shape, OnnxExportOptions.defaults().withOpset(c.opset()))
              .toByteArray();
      try (OnnxModule back = Onnx.load(onnx)) {
        assertSame(
            layer,
            back,
            c.shape(),
            c.indices(),
            gen,
            c.toString(),
            OnnxExportLayerTest.tolerance(c));
      }
    }
  }

  @Test
  void mlpAndCnnRoundTripThroughAFile() throws Exception {
    Generator gen = new Generator(11);
    String mlp = "linear(64), relu, linear(32), gelu, layernorm, dropout(0.2), linear(10)";
    String cnn =
        "conv(8,k=3,p=1), batchnorm, relu, maxpool(2), conv(16,k=3,s=2,p=1), batchnorm,"
            + " leakyrelu(0.1), avgpool(2), flatten, linear(32), batchnorm, tanh, linear(10)";
    try (Sequential a = NetworkSpec.build(mlp, new int[] {20}, gen);
        Sequential b = NetworkSpec.build(cnn, new int[] {3, 16, 16}, gen)) {
      for (Sequential m : new Sequential[] {a, b}) {
        OnnxExportLayerTest.randomizeState(m, gen);
        m.eval();
      }
      Path fa = dir.resolve("mlp.onnx");
      Path fb = dir.resolve("cnn.onnx");
      Onnx.export(a, new long[] {1, 20}, fa);
      Onnx.export(b, new long[] {1, 3, 16, 16}, fb);
      try (OnnxModule ma = Onnx.load(fa);
          OnnxModule mb = Onnx.load(fb)) {
        assertEquals(a.namedParameters().keySet(), ma.namedParameters().keySet());
        assertEquals(b.namedParameters().keySet(), mb.namedParameters().keySet());
        assertSame(a, ma, new int[] {5, 20}, false, gen, "MLP");
        assertSame(b, mb, new int[] {3, 3, 16, 16}, false, gen, "CNN");
      }
    }
  }

  /** Same outputs, input gradient and parameter gradients (by name) for one random input. */
  static void assertSame(
      Module original, OnnxModule back, int[] shape, boolean indices, Generator gen, String what) {
    assertSame(original, back, shape, indices, gen, what, 1e-5);
  }

  /** As above; outputs within {@code tolerance}, gradients within ten times it. */
  static void assertSame(
      Module original,
      OnnxModule back,
      int[] shape,
      boolean indices,
      Generator gen,
      String what,
      double tolerance) {
    // every parameter comes back under its name; the exporter's own constant tensors (named
    // "/...", e.g. the ones and zeros of a BatchNorm without affine part) become parameters too,
    // as ONNX does not tell weights from constants
    for (String name : back.namedParameters().keySet()) {
      assertTrue(
          original.namedParameters().containsKey(name) || name.startsWith("/"),
          what + ": unexpected parameter " + name);
    }
    for (String name : original.namedParameters().keySet()) {
      assertTrue(back.namedParameters().containsKey(name), what + ": lost parameter " + name);
    }
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x =
          indices
              ? NDArray.randint(gen, 0, 10, shape)
              : NDArray.uniform(gen, DType.FLOAT32, -3, 3, shape);
      Tensor xa = Tensor.of(x.copy(), !indices);
      Tensor xb = Tensor.of(x.copy(), !indices);
      Tensor ya = original.forward(xa);
      Tensor yb = back.forward(xb);
      assertArrayEquals(ya.shape(), yb.shape(), what + " output shape");
      assertClose(ya.data().toFloatArray(), yb.data().toFloatArray(), tolerance, what + " output");
      NDArray w = NDArray.uniform(gen, DType.FLOAT32, -1, 1, ya.shape());
      boolean anyGrad = !original.parameters().isEmpty() || !indices;
      if (!anyGrad) {
        return;
      }
      ya.mul(Tensor.of(w.share())).sum().backward();
      yb.mul(Tensor.of(w.share())).sum().backward();
      if (!indices) {
        assertClose(
            xa.grad().toFloatArray(), xb.grad().toFloatArray(), 10 * tolerance, what + " dx");
      }
      Map<String, Parameter> pb = back.namedParameters();
      for (Map.Entry<String, Parameter> e : original.namedParameters().entrySet()) {
        assertClose(
            e.getValue().grad().toFloatArray(),
            pb.get(e.getKey()).grad().toFloatArray(),
            10 * tolerance,
            what + " d" + e.getKey());
      }
    } finally {
      original.zeroGrad();
    }
  }
}
