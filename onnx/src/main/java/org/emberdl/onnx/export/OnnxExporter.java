package org.emberdl.onnx.export;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.emberdl.nn.Embedding;
import org.emberdl.nn.Module;
import org.emberdl.nn.Sequential;
import org.emberdl.onnx.OnnxExportOptions;
import org.emberdl.onnx.proto.GraphProto;
import org.emberdl.onnx.proto.ModelProto;
import org.emberdl.onnx.proto.NodeProto;
import org.emberdl.onnx.proto.OperatorSetIdProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.onnx.proto.TensorShapeProto;
import org.emberdl.onnx.proto.TypeProto;
import org.emberdl.onnx.proto.ValueInfoProto;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the {@link ModelProto} of a module: walks the module tree with the registered {@link
 * LayerExporter}s, then wraps the nodes and initializers in a graph with one input (dim 0 the
 * symbolic {@code batch}) and one output. Nothing is written unless the whole model exported.
 */
public final class OnnxExporter {
  private static final Logger LOG = LoggerFactory.getLogger(OnnxExporter.class);

  /** The symbolic name of the batch dim in the graph's input and output shapes. */
  public static final String BATCH = "batch";

  /** One protobuf message cannot exceed 2 GiB; weights beyond that need ONNX external data. */
  private static final long MAX_BYTES = Integer.MAX_VALUE - (16L << 20);

  private OnnxExporter() {}

  /**
   * @param inputShape the input's shape including the batch dim, whose size (any positive value, or
   *     -1) is not fixed in the graph
   */
  public static ModelProto export(Module model, long[] inputShape, OnnxExportOptions options) {
    long[] shape = checkShape(inputShape);
    int inputType =
        startsWithEmbedding(model)
            ? TensorProto.DataType.INT64_VALUE
            : TensorProto.DataType.FLOAT_VALUE;
    OnnxValue input = new OnnxValue(options.inputName(), inputType, shape);
    ExportContext ctx =
        new ExportContext(
            options.opset(),
            options.exporters(),
            Set.of(options.inputName(), options.outputName()));
    OnnxValue result = ctx.exportModule(model, input);
    List<NodeProto.Builder> nodes = ctx.nodes();
    if (result.name().equals(input.name())) {
      // nothing computed (Identity, Dropout): the graph still needs a node producing the output
      ctx.node("Identity", input.name());
      result = result.named(nodes.get(nodes.size() - 1).getOutput(0));
    }
    rename(nodes, result.name(), options.outputName());
    long bytes = 0;
    for (TensorProto t : ctx.initializers()) {
      bytes += t.getRawData().size();
    }
    if (bytes > MAX_BYTES) {
      throw new IllegalArgumentException(
          "cannot export "
              + model.getClass().getSimpleName()
              + " to ONNX: its "
              + bytes
              + " bytes of weights exceed the 2 GiB a single ONNX file holds (external data is not"
              + " supported)");
    }
    GraphProto.Builder graph =
        GraphProto.newBuilder()
            .setName(model.getClass().getSimpleName())
            .addInput(valueInfo(input))
            .addOutput(valueInfo(result.named(options.outputName())))
            .addAllInitializer(ctx.initializers());
    nodes.forEach(graph::addNode);
    ModelProto proto =
        ModelProto.newBuilder()
            .setIrVersion(irVersion(options.opset()))
            .setProducerName("ember")
            .setProducerVersion(producerVersion())
            .addOpsetImport(
                OperatorSetIdProto.newBuilder().setDomain("").setVersion(options.opset()))
            .setGraph(graph)
            .build();
    LOG.debug(
        "exported {} to ONNX opset {}: {} nodes, {} initializers, {} bytes of weights, output {}",
        model.getClass().getSimpleName(),
        options.opset(),
        nodes.size(),
        ctx.initializers().size(),
        bytes,
        result.shapeString());
    return proto;
  }

  /**
   * The IR version of the ONNX release that introduced {@code opset} (1.12: 17/IR 8, 1.13: 18/IR 8,
   * 1.14: 19/IR 9, 1.15: 20/IR 9, 1.16: 21/IR 10, 1.17: 22/IR 10): the oldest runtime that knows
   * the opset also reads the file.
   */
  static int irVersion(int opset) {
    return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
  }

  private static long[] checkShape(long[] inputShape) {
    if (inputShape == null || inputShape.length == 0) {
      throw new IllegalArgumentException(
          "inputShape must include the batch dim, e.g. {1, 784}; got "
              + Arrays.toString(inputShape));
    }
    long[] shape = inputShape.clone();
    if (shape[0] != -1 && shape[0] <= 0) {
      throw new IllegalArgumentException(
          "inputShape's batch dim must be positive or -1, got " + Arrays.toString(inputShape));
    }
    for (int d = 1; d < shape.length; d++) {
      if (shape[d] <= 0) {
        throw new IllegalArgumentException(
            "inputShape dim "
                + d
                + " must be positive (only the batch dim is dynamic), got "
                + Arrays.toString(inputShape));
      }
    }
    shape[0] = OnnxValue.DYNAMIC;
    return shape;
  }

  /** Whether the model's first computation is an Embedding, whose input is int64 indices. */
  private static boolean startsWithEmbedding(Module model) {
    Module m = model;
    while (m instanceof Sequential seq && seq.size() > 0) {
      m = seq.get(0);
    }
    return m instanceof Embedding;
  }

  private static void rename(List<NodeProto.Builder> nodes, String from, String to) {
    for (NodeProto.Builder n : nodes) {
      for (int i = 0; i < n.getInputCount(); i++) {
        if (n.getInput(i).equals(from)) {
          n.setInput(i, to);
        }
      }
      for (int i = 0; i < n.getOutputCount(); i++) {
        if (n.getOutput(i).equals(from)) {
          n.setOutput(i, to);
        }
      }
    }
  }

  private static ValueInfoProto valueInfo(OnnxValue v) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (long d : v.shape()) {
      TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
      if (d == OnnxValue.DYNAMIC) {
        dim.setDimParam(BATCH);
      } else if (d >= 0) {
        dim.setDimValue(d);
      } // else a run-time size with no name: neither field set
      shape.addDim(dim);
    }
    return ValueInfoProto.newBuilder()
        .setName(v.name())
        .setType(
            TypeProto.newBuilder()
                .setTensorType(
                    TypeProto.Tensor.newBuilder().setElemType(v.elemType()).setShape(shape)))
        .build();
  }

  private static String producerVersion() {
    String v = OnnxExporter.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }
}
