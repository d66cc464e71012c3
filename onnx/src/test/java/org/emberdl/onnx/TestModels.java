package org.emberdl.onnx;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.emberdl.onnx.proto.AttributeProto;
import org.emberdl.onnx.proto.GraphProto;
import org.emberdl.onnx.proto.ModelProto;
import org.emberdl.onnx.proto.NodeProto;
import org.emberdl.onnx.proto.OperatorSetIdProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.onnx.proto.TensorShapeProto;
import org.emberdl.onnx.proto.TypeProto;
import org.emberdl.onnx.proto.ValueInfoProto;

/** Small hand-built ONNX models for tests. */
final class TestModels {
  private TestModels() {}

  static ModelProto model(int opset, GraphProto.Builder graph) {
    return ModelProto.newBuilder()
        .setIrVersion(8)
        .setProducerName("test")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
        .setGraph(graph)
        .build();
  }

  static ModelProto model(GraphProto.Builder graph) {
    return model(13, graph);
  }

  /** A graph with float inputs and outputs of unknown shape. */
  static GraphProto.Builder graph(String[] inputs, String[] outputs, NodeProto.Builder... nodes) {
    GraphProto.Builder g = GraphProto.newBuilder().setName("test");
    for (String in : inputs) {
      g.addInput(value(in, TensorProto.DataType.FLOAT_VALUE));
    }
    for (String out : outputs) {
      g.addOutput(value(out, TensorProto.DataType.FLOAT_VALUE));
    }
    for (NodeProto.Builder n : nodes) {
      g.addNode(n);
    }
    return g;
  }

  static ValueInfoProto value(String name, int elemType, long... dims) {
    TypeProto.Tensor.Builder t = TypeProto.Tensor.newBuilder().setElemType(elemType);
    if (dims.length > 0) {
      TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
      for (long d : dims) {
        s.addDim(
            d < 0
                ? TensorShapeProto.Dimension.newBuilder().setDimParam("batch")
                : TensorShapeProto.Dimension.newBuilder().setDimValue(d));
      }
      t.setShape(s);
    }
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(TypeProto.newBuilder().setTensorType(t))
        .build();
  }

  static NodeProto.Builder node(String op, String name, String[] inputs, String[] outputs) {
    NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name);
    for (String in : inputs) {
      n.addInput(in);
    }
    for (String out : outputs) {
      n.addOutput(out);
    }
    return n;
  }

  static AttributeProto intAttr(String name, long v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.INT)
        .setI(v)
        .build();
  }

  static AttributeProto floatAttr(String name, float v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.FLOAT)
        .setF(v)
        .build();
  }

  static AttributeProto stringAttr(String name, String v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.STRING)
        .setS(ByteString.copyFromUtf8(v))
        .build();
  }

  static AttributeProto intsAttr(String name, long... v) {
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long x : v) {
      a.addInts(x);
    }
    return a.build();
  }

  static AttributeProto tensorAttr(String name, TensorProto t) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.TENSOR)
        .setT(t)
        .build();
  }

  /** A FLOAT tensor with raw little-endian data. */
  static TensorProto floats(String name, long[] dims, float... values) {
    ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setName(name)
            .setDataType(TensorProto.DataType.FLOAT_VALUE)
            .setRawData(ByteString.copyFrom(b.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }

  /** An INT64 tensor in int64_data. */
  static TensorProto longs(String name, long[] dims, long... values) {
    TensorProto.Builder t =
        TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE);
    for (long d : dims) {
      t.addDims(d);
    }
    for (long v : values) {
      t.addInt64Data(v);
    }
    return t.build();
  }

  static long[] dims(long... d) {
    return d;
  }

  static String[] names(String... n) {
    return n;
  }
}
