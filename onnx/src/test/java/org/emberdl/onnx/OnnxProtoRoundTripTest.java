package org.emberdl.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import org.emberdl.onnx.proto.AttributeProto;
import org.emberdl.onnx.proto.GraphProto;
import org.emberdl.onnx.proto.ModelProto;
import org.emberdl.onnx.proto.NodeProto;
import org.emberdl.onnx.proto.OperatorSetIdProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.onnx.proto.TensorShapeProto;
import org.emberdl.onnx.proto.TypeProto;
import org.emberdl.onnx.proto.ValueInfoProto;
import org.junit.jupiter.api.Test;

/** The generated ONNX messages write and read back, and sit at the format's field numbers. */
class OnnxProtoRoundTripTest {

  @Test
  void modelRoundTripsThroughBytes() throws Exception {
    ModelProto model =
        ModelProto.newBuilder()
            .setIrVersion(8)
            .setProducerName("ember")
            .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(18))
            .setGraph(
                GraphProto.newBuilder()
                    .setName("g")
                    .addNode(
                        NodeProto.newBuilder()
                            .setOpType("LeakyRelu")
                            .addInput("input")
                            .addOutput("output")
                            .addAttribute(
                                AttributeProto.newBuilder()
                                    .setName("alpha")
                                    .setType(AttributeProto.AttributeType.FLOAT)
                                    .setF(0.2f)))
                    .addInitializer(
                        TensorProto.newBuilder()
                            .setName("0.weight")
                            .setDataType(TensorProto.DataType.FLOAT_VALUE)
                            .addDims(2)
                            .setRawData(ByteString.copyFrom(new byte[8])))
                    .addInput(
                        ValueInfoProto.newBuilder()
                            .setName("input")
                            .setType(
                                TypeProto.newBuilder()
                                    .setTensorType(
                                        TypeProto.Tensor.newBuilder()
                                            .setElemType(TensorProto.DataType.FLOAT_VALUE)
                                            .setShape(
                                                TensorShapeProto.newBuilder()
                                                    .addDim(
                                                        TensorShapeProto.Dimension.newBuilder()
                                                            .setDimParam("batch"))
                                                    .addDim(
                                                        TensorShapeProto.Dimension.newBuilder()
                                                            .setDimValue(4)))))))
            .build();

    byte[] bytes = model.toByteArray();
    ModelProto back = ModelProto.parseFrom(bytes);

    assertEquals(model, back);
    assertEquals(0.2f, back.getGraph().getNode(0).getAttribute(0).getF());
    assertEquals(
        "batch",
        back.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
    assertArrayEquals(bytes, back.toByteArray());
  }

  /**
   * The wire bytes of a tiny model worked out by hand from the ONNX field numbers (ir_version = 1,
   * opset_import = 8 {domain = 1, version = 2}, graph = 7 {node = 1 {op_type = 4}}): if a field
   * number in onnx.proto were wrong, real files would not parse, and this would fail.
   */
  @Test
  void fieldNumbersMatchTheOnnxFormat() throws Exception {
    byte[] wire = {
      0x08,
      0x08, // field 1 (ir_version), varint 8
      0x3a,
      0x06, // field 7 (graph), 6 bytes
      0x0a,
      0x04, // graph field 1 (node), 4 bytes
      0x22,
      0x02,
      'I',
      'd', // node field 4 (op_type) "Id"
      0x42,
      0x02, // field 8 (opset_import), 2 bytes
      0x10,
      0x11 // opset field 2 (version), varint 17
    };
    ModelProto m = ModelProto.parseFrom(wire);
    assertEquals(8, m.getIrVersion());
    assertEquals("Id", m.getGraph().getNode(0).getOpType());
    assertEquals(17, m.getOpsetImport(0).getVersion());
    assertEquals("", m.getOpsetImport(0).getDomain());
    assertArrayEquals(wire, m.toByteArray());
  }
}
