package org.emberdl.onnx;

import static org.emberdl.onnx.TestModels.dims;
import static org.emberdl.onnx.TestModels.floats;
import static org.emberdl.onnx.TestModels.graph;
import static org.emberdl.onnx.TestModels.intAttr;
import static org.emberdl.onnx.TestModels.longs;
import static org.emberdl.onnx.TestModels.model;
import static org.emberdl.onnx.TestModels.names;
import static org.emberdl.onnx.TestModels.node;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.onnx.proto.GraphProto;
import org.emberdl.onnx.proto.ModelProto;
import org.emberdl.onnx.proto.OperatorSetIdProto;
import org.emberdl.onnx.proto.StringStringEntryProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad and hostile ONNX files fail with an {@link OnnxFormatException} that names what is wrong
 * (node, initializer, value or file), and never make Ember allocate more than their bytes justify.
 */
class OnnxImportSafetyTest {
  @TempDir Path dir;

  /** y = x @ w + b, with w (2, 3) and b (3). */
  static GraphProto.Builder linear(TensorProto w) {
    return graph(
            names("x"),
            names("y"),
            node("MatMul", "mm", names("x", "w"), names("xw")),
            node("Add", "bias_add", names("xw", "b"), names("y")))
        .addInitializer(w)
        .addInitializer(floats("b", dims(3), 0.5f, -0.5f, 1f));
  }

  static TensorProto goodW() {
    return floats("w", dims(2, 3), 1, 2, 3, 4, 5, 6);
  }

  static OnnxFormatException fails(ModelProto m) {
    return assertThrows(OnnxFormatException.class, () -> Onnx.load(m.toByteArray()));
  }

  static void assertMentions(Exception e, String... parts) {
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "message lacks '" + p + "': " + e.getMessage());
    }
  }

  @Test
  void aWellFormedModelLoadsAndRuns() throws Exception {
    try (NoGrad ng = NoGrad.enter();
        OnnxModule m = Onnx.load(model(linear(goodW())).toByteArray());
        Tensor x = Tensor.of(NDArray.of(new float[] {1, -1}, 1, 2));
        Tensor y = m.forward(x)) {
      // [1, -1] @ [[1, 2, 3], [4, 5, 6]] + [0.5, -0.5, 1] = [-3 + 0.5, -3 - 0.5, -3 + 1]
      assertEquals(
          Arrays.toString(new float[] {-2.5f, -3.5f, -2f}),
          Arrays.toString(y.data().toFloatArray()));
    }
  }

  @Test
  void truncatedFileIsRefused() throws Exception {
    byte[] full = Files.readAllBytes(OnnxFixtureTest.fixture("mlp.onnx"));
    byte[] half = Arrays.copyOf(full, full.length / 2);
    OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> Onnx.load(half));
    assertMentions(e, "is not an ONNX model", half.length + " bytes");
    Path file = dir.resolve("cut.onnx");
    Files.write(file, half);
    e = assertThrows(OnnxFormatException.class, () -> Onnx.load(file));
    assertMentions(e, file.toString(), "is not an ONNX model");
  }

  @Test
  void bytesThatAreNotAModelAreRefused() {
    byte[] text =
        "PK\u0003\u0004 this is a zip file, not an ONNX model"
            .getBytes(StandardCharsets.ISO_8859_1);
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(text)), "is not an ONNX model");
    // valid protobuf of another message: parses, but has no ir_version or graph
    byte[] other =
        OperatorSetIdProto.newBuilder().setDomain("x").setVersion(3).build().toByteArray();
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(other)),
        "is not an ONNX model",
        "no ir_version");
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(new byte[0])),
        "is not an ONNX model");
  }

  @Test
  void emptyGraphIsRefused() {
    assertMentions(fails(model(graph(names("x"), names("x")))), "the graph has no nodes");
  }

  @Test
  void intWeightWhereAFloatIsNeededIsRefusedNamingNodeAndInitializer() {
    TensorProto intW = longs("w", dims(2, 3), 1, 2, 3, 4, 5, 6);
    assertMentions(
        fails(model(linear(intW))),
        "node 'mm' (MatMul)",
        "input 1 'w'",
        "initializer 'w'",
        "must be a float tensor",
        "int64");
    // a string tensor cannot be held at all
    TensorProto s =
        TensorProto.newBuilder()
            .setName("w")
            .setDataType(TensorProto.DataType.STRING_VALUE)
            .addDims(1)
            .addStringData(ByteString.copyFromUtf8("a"))
            .build();
    assertMentions(fails(model(linear(s))), "initializer 'w'", "STRING");
  }

  @Test
  void shapeLargerThanItsDataIsRefusedBeforeAllocating() {
    long allocatedBefore = Allocators.cpuAllocatedBytes();
    long peakBefore = Allocators.cpuPeakBytes();
    // 2^15 x 2^15 floats = 4 GiB declared, 24 bytes present
    TensorProto huge = goodW().toBuilder().clearDims().addDims(1 << 15).addDims(1 << 15).build();
    assertMentions(
        fails(model(linear(huge))),
        "initializer 'w'",
        "[32768, 32768]",
        "4294967296 bytes",
        "raw_data holds 24 bytes");
    // the same in float_data: 6 values for 4 declared
    TensorProto typed =
        TensorProto.newBuilder()
            .setName("w")
            .setDataType(TensorProto.DataType.FLOAT_VALUE)
            .addDims(2)
            .addDims(2)
            .addAllFloatData(Arrays.asList(1f, 2f, 3f, 4f, 5f, 6f))
            .build();
    assertMentions(
        fails(model(linear(typed))),
        "initializer 'w'",
        "4 elements",
        "holds 6 values in float_data");
    // more elements than any array: refused from the dims alone
    TensorProto overflow =
        goodW().toBuilder().clearDims().addDims(1 << 30).addDims(1 << 30).addDims(1 << 30).build();
    assertMentions(fails(model(linear(overflow))), "initializer 'w'", "elements");
    TensorProto negative = goodW().toBuilder().clearDims().addDims(-6).build();
    assertMentions(fails(model(linear(negative))), "initializer 'w'", "dim -6");
    long peakAfter = Allocators.cpuPeakBytes();
    assertTrue(
        peakAfter <= Math.max(peakBefore, allocatedBefore + (1 << 20)),
        "the refused tensors must not have been allocated: peak " + peakAfter);
  }

  @Test
  void cycleIsRefusedNamingItsNodes() {
    GraphProto.Builder g =
        graph(
            names("x"),
            names("y"),
            node("Add", "first", names("x", "loop"), names("a")),
            node("Relu", "second", names("a"), names("loop")),
            node("Identity", "out", names("a"), names("y")));
    assertMentions(fails(model(g)), "cycle", "node 'first' (Add)", "node 'second' (Relu)");
  }

  @Test
  void inputNeverProducedIsRefusedNamingNodeAndValue() {
    GraphProto.Builder g =
        graph(names("x"), names("y"), node("Add", "adder", names("x", "ghost"), names("y")));
    assertMentions(fails(model(g)), "node 'adder' (Add)", "'ghost'", "never produced");
    GraphProto.Builder noOut =
        graph(names("x"), names("z"), node("Relu", "r", names("x"), names("y")));
    assertMentions(fails(model(noOut)), "graph output 'z' is never produced");
  }

  @Test
  void valueDefinedTwiceIsRefused() {
    GraphProto.Builder g =
        graph(
            names("x"),
            names("y"),
            node("Relu", "r1", names("x"), names("y")),
            node("Sigmoid", "r2", names("x"), names("y")));
    assertMentions(
        fails(model(g)), "value 'y' is defined twice", "node 'r1' (Relu)", "node 'r2' (Sigmoid)");
  }

  @Test
  void unsupportedOpIsRefusedNamingNodeAndOpType() {
    GraphProto.Builder g =
        graph(
            names("x"),
            names("y"),
            node("Relu", "ok", names("x"), names("r")),
            node("NonMaxSuppression", "nms_1", names("r"), names("y")));
    assertMentions(
        fails(model(g)),
        "node 'nms_1' (NonMaxSuppression)",
        "op 'NonMaxSuppression'",
        "supported ops: [",
        "Gemm");
    GraphProto.Builder custom =
        graph(
            names("x"),
            names("y"),
            node("FusedGemm", "f", names("x"), names("y")).setDomain("com.microsoft"));
    assertMentions(fails(model(custom)), "node 'f' (FusedGemm)", "domain 'com.microsoft'");
    // an unnamed node is named by its position
    GraphProto.Builder unnamed =
        graph(
            names("x"),
            names("y"),
            node("Relu", "", names("x"), names("r")),
            node("Mystery", "", names("r"), names("y")));
    assertMentions(fails(model(unnamed)), "node #1 (Mystery)");
  }

  @Test
  void nodeWithTooFewInputsIsRefused() {
    GraphProto.Builder g =
        graph(names("x"), names("y"), node("Gemm", "lonely", names("x"), names("y")));
    assertMentions(fails(model(g)), "node 'lonely' (Gemm)", "has 1 inputs [x]", "needs at least 2");
    GraphProto.Builder bn =
        graph(
            names("x"),
            names("y"),
            node("BatchNormalization", "bn", names("x", "", "", "", ""), names("y")));
    assertMentions(fails(model(bn)), "node 'bn' (BatchNormalization)", "needs at least 5");
  }

  @Test
  void unsupportedAttributeValuesAreRefusedNamingTheNode() {
    GraphProto.Builder cast =
        graph(
            names("x"),
            names("y"),
            node("Cast", "to_half", names("x"), names("y")).addAttribute(intAttr("to", 10)));
    assertMentions(fails(model(cast)), "node 'to_half' (Cast)", "FLOAT16", "not supported");
    GraphProto.Builder pad =
        graph(
                names("x"),
                names("y"),
                node("Pad", "reflect", names("x", "p"), names("y"))
                    .addAttribute(TestModels.stringAttr("mode", "reflect")))
            .addInitializer(longs("p", dims(2), 1, 1));
    assertMentions(fails(model(pad)), "node 'reflect' (Pad)", "\"reflect\"");
    GraphProto.Builder conv3d =
        graph(
                names("x"),
                names("y"),
                node("Conv", "c3", names("x", "w"), names("y"))
                    .addAttribute(TestModels.intsAttr("kernel_shape", 1, 1, 1)))
            .addInitializer(floats("w", dims(1, 1, 1, 1, 1), 1f));
    assertMentions(fails(model(conv3d)), "node 'c3' (Conv)", "only 1-D and 2-D");
  }

  @Test
  void opsetOutsideTheSupportedRangeIsRefused() {
    assertMentions(fails(model(8, linear(goodW()))), "opset 8", "opsets 9 to 22");
    assertMentions(fails(model(23, linear(goodW()))), "opset 23");
    ModelProto none = model(linear(goodW())).toBuilder().clearOpsetImport().build();
    assertMentions(fails(none), "imports no opset of the default ONNX domain");
  }

  @Test
  void nanInWeightsIsAllowed() throws Exception {
    TensorProto w = floats("w", dims(2, 3), Float.NaN, 2, 3, 4, 5, 6);
    try (NoGrad ng = NoGrad.enter();
        OnnxModule m = Onnx.load(model(linear(w)).toByteArray());
        Tensor x = Tensor.of(NDArray.of(new float[] {1, 1}, 1, 2));
        Tensor y = m.forward(x)) {
      float[] v = y.data().toFloatArray();
      assertTrue(Float.isNaN(v[0]));
      assertEquals(6.5f, v[1]); // 2 + 5 - 0.5
    }
  }

  private static TensorProto external(String location, long offset, long length) {
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setName("w")
            .setDataType(TensorProto.DataType.FLOAT_VALUE)
            .addDims(2)
            .addDims(3)
            .setDataLocation(TensorProto.DataLocation.EXTERNAL)
            .addExternalData(
                StringStringEntryProto.newBuilder().setKey("location").setValue(location));
    if (offset >= 0) {
      t.addExternalData(
          StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)));
    }
    if (length >= 0) {
      t.addExternalData(
          StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(length)));
    }
    return t.build();
  }

  private Path writeModel(Path folder, TensorProto w) throws Exception {
    Files.createDirectories(folder);
    Path file = folder.resolve("model.onnx");
    Files.write(file, model(linear(w)).toByteArray());
    return file;
  }

  private static byte[] weightBytes() {
    java.nio.ByteBuffer b =
        java.nio.ByteBuffer.allocate(8 + 24).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.putLong(0); // 8 bytes of something else before the tensor
    for (float v : new float[] {1, 2, 3, 4, 5, 6}) {
      b.putFloat(v);
    }
    return b.array();
  }

  @Test
  void externalDataInsideTheModelDirectoryLoads() throws Exception {
    Path folder = dir.resolve("m");
    Path file = writeModel(folder, external("weights/w.bin", 8, 24));
    Files.createDirectories(folder.resolve("weights"));
    Files.write(folder.resolve("weights/w.bin"), weightBytes());
    try (NoGrad ng = NoGrad.enter();
        OnnxModule m = Onnx.load(file);
        Tensor x = Tensor.of(NDArray.of(new float[] {1, -1}, 1, 2));
        Tensor y = m.forward(x)) {
      assertEquals(
          Arrays.toString(new float[] {-2.5f, -3.5f, -2f}),
          Arrays.toString(y.data().toFloatArray()));
      // re-exported, the external tensor is stored inline: the bytes load without the folder
      try (OnnxModule inline = Onnx.load(m.exportOnnxBytes());
          Tensor y2 = inline.forward(x)) {
        assertEquals(
            Arrays.toString(y.data().toFloatArray()), Arrays.toString(y2.data().toFloatArray()));
      }
    }
  }

  @Test
  void missingExternalDataFileIsNamed() throws Exception {
    Path file = writeModel(dir.resolve("m"), external("w.bin", -1, -1));
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(file)),
        "initializer 'w'",
        "external file 'w.bin'",
        "does not exist");
  }

  @Test
  void externalDataOutsideTheModelDirectoryIsRefused() throws Exception {
    Files.write(dir.resolve("secret.bin"), weightBytes());
    Path folder = dir.resolve("m");
    for (String location :
        new String[] {
          "../secret.bin", "sub/../../secret.bin", dir.resolve("secret.bin").toString()
        }) {
      Path file = writeModel(folder, external(location, 8, 24));
      assertMentions(
          assertThrows(OnnxFormatException.class, () -> Onnx.load(file)),
          "initializer 'w'",
          "'" + location + "'",
          "leaves the model's directory");
    }
    // a link inside the directory that points out of it
    Path link = folder.resolve("link.bin");
    Files.createSymbolicLink(link, dir.resolve("secret.bin"));
    Path file = writeModel(folder, external("link.bin", 8, 24));
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(file)),
        "initializer 'w'",
        "links out of the model's directory");
  }

  @Test
  void externalDataShorterThanTheShapeIsRefused() throws Exception {
    Path folder = dir.resolve("m");
    Path file = writeModel(folder, external("w.bin", 16, -1));
    Files.write(folder.resolve("w.bin"), weightBytes());
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(file)),
        "initializer 'w'",
        "needs 24 bytes at offset 16",
        "which has 32 bytes");
    Path lying = writeModel(folder, external("w.bin", 8, 1L << 40));
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(lying)),
        "initializer 'w'",
        "needs 24 bytes");
  }

  @Test
  void externalDataOfAnAbsurdSizeIsRefusedBeforeReading() throws Exception {
    Path folder = dir.resolve("m");
    TensorProto big =
        external("w.bin", 0, -1).toBuilder().clearDims().addDims(1 << 29).addDims(2).build();
    Path file = writeModel(folder, big);
    Files.write(folder.resolve("w.bin"), weightBytes());
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(file)),
        "initializer 'w'",
        "declares 4294967296 bytes of external data");
  }

  @Test
  void missingModelFileAndStreamsAreHandled() throws Exception {
    Path missing = dir.resolve("nope.onnx");
    assertMentions(
        assertThrows(java.io.FileNotFoundException.class, () -> Onnx.load(missing)),
        missing.toString(),
        "does not exist");
    byte[] bytes = model(linear(goodW())).toByteArray();
    try (OnnxModule m = Onnx.load(new java.io.ByteArrayInputStream(bytes))) {
      assertEquals(List.of("x"), m.inputNames());
    }
  }

  @Test
  void externalDataFromBytesNeedsAPath() throws Exception {
    byte[] bytes = model(linear(external("w.bin", 0, 24))).toByteArray();
    assertMentions(
        assertThrows(OnnxFormatException.class, () -> Onnx.load(bytes)),
        "initializer 'w'",
        "'w.bin'",
        "Onnx.load(Path)");
  }

  @Test
  void runtimeFailureNamesTheNode() throws Exception {
    try (OnnxModule m = Onnx.load(model(linear(goodW())).toByteArray());
        Tensor x = Tensor.of(NDArray.of(new float[] {1, 2, 3}, 1, 3))) {
      OnnxExecutionException e = assertThrows(OnnxExecutionException.class, () -> m.forward(x));
      assertMentions(e, "node 'mm' (MatMul)", "'x' float32[1, 3]", "'w' float32[2, 3]");
    }
  }

  @Test
  void inputOfTheWrongTypeOrShapeIsNamed() throws Exception {
    GraphProto.Builder g =
        linear(goodW())
            .clearInput()
            .addInput(TestModels.value("x", TensorProto.DataType.FLOAT_VALUE, -1, 2));
    try (OnnxModule m = Onnx.load(model(g).toByteArray());
        Tensor ints = Tensor.of(NDArray.of(new long[] {1, 2}, 1, 2));
        Tensor wide = Tensor.of(NDArray.of(new float[] {1, 2, 3}, 1, 3))) {
      assertMentions(
          assertThrows(IllegalArgumentException.class, () -> m.forward(ints)),
          "input 'x' must be float32, got int64");
      assertMentions(
          assertThrows(IllegalArgumentException.class, () -> m.forward(wide)),
          "input 'x' must have shape [?, 2], got [1, 3]");
    }
  }
}
