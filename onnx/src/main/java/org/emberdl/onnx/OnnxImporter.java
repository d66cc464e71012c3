package org.emberdl.onnx;

import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.emberdl.nn.Dropout;
import org.emberdl.onnx.proto.AttributeProto;
import org.emberdl.onnx.proto.GraphProto;
import org.emberdl.onnx.proto.ModelProto;
import org.emberdl.onnx.proto.NodeProto;
import org.emberdl.onnx.proto.OperatorSetIdProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.onnx.proto.TensorShapeProto;
import org.emberdl.onnx.proto.TypeProto;
import org.emberdl.onnx.proto.ValueInfoProto;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ModelProto -> {@link OnnxModule}: checks the model (opset, names, that every input is produced,
 * no cycles), orders the nodes topologically, decides which initializers are parameters, buffers or
 * constants, and compiles each node into a kernel.
 */
final class OnnxImporter {
  private static final Logger LOG = LoggerFactory.getLogger(OnnxImporter.class);

  /** The default domain's opsets whose semantics the ops here implement. */
  static final int MIN_OPSET = 9;

  static final int MAX_OPSET = 22;

  private final ModelProto model;
  private final String source;
  private final TensorDecoder decoder;
  private int opset;

  /** Value name -> slot. */
  private final Map<String, Integer> slots = new LinkedHashMap<>();

  /** Value name -> who defines it, for messages. */
  private final Map<String, String> definedBy = new HashMap<>();

  /** Decoded initializers (closed here unless handed to the module). */
  private final Map<String, NDArray> initializers = new LinkedHashMap<>();

  /** Constant node outputs. */
  private final Map<String, NDArray> constantValues = new LinkedHashMap<>();

  private final List<OnnxNode> nodes = new ArrayList<>();

  private OnnxImporter(ModelProto model, Path baseDir, String source) {
    this.model = model;
    this.source = source;
    this.decoder = new TensorDecoder(baseDir);
  }

  static OnnxModule importModel(byte[] bytes, Path baseDir, String source)
      throws OnnxFormatException {
    ModelProto model;
    try {
      model = ModelProto.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new OnnxFormatException(
          source
              + " is not an ONNX model: its "
              + bytes.length
              + " bytes do not parse as a ModelProto ("
              + e.getMessage()
              + ")",
          e);
    }
    return new OnnxImporter(model, baseDir, source).build();
  }

  private OnnxModule build() throws OnnxFormatException {
    try {
      return buildOrThrow();
    } catch (OnnxFormatException | RuntimeException e) {
      initializers.values().forEach(NDArray::close);
      constantValues.values().forEach(NDArray::close);
      nodes.forEach(n -> n.attributes().close());
      throw e;
    }
  }

  private OnnxModule buildOrThrow() throws OnnxFormatException {
    if (model.getIrVersion() <= 0 || !model.hasGraph()) {
      throw new OnnxFormatException(
          source
              + " is not an ONNX model: it has "
              + (model.getIrVersion() <= 0 ? "no ir_version" : "no graph")
              + " (the bytes parse as protobuf, but not as an ONNX ModelProto)");
    }
    opset = defaultOpset();
    GraphProto g = model.getGraph();
    if (g.getNodeCount() == 0) {
      throw new OnnxFormatException(
          source + ": the graph has no nodes (an empty graph is no model)");
    }
    if (g.getOutputCount() == 0) {
      throw new OnnxFormatException(source + ": the graph declares no outputs");
    }
    if (g.getSparseInitializerCount() > 0) {
      throw new OnnxFormatException(
          source
              + ": sparse initializer '"
              + g.getSparseInitializer(0).getValues().getName()
              + "' is not supported");
    }
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      String name = t.getName();
      if (name.isEmpty()) {
        throw new OnnxFormatException(source + ": initializer #" + i + " has no name");
      }
      define(name, "initializer '" + name + "'");
      initializers.put(name, decoder.decode(t, "initializer '" + name + "'"));
    }
    List<String> inputNames = new ArrayList<>();
    List<ValueInfoProto> inputInfos = new ArrayList<>();
    for (ValueInfoProto in : g.getInputList()) {
      if (initializers.containsKey(in.getName())) {
        continue; // an initializer listed as an input (IR < 4 style): a weight
      }
      if (in.getName().isEmpty()) {
        throw new OnnxFormatException(source + ": a graph input has no name");
      }
      define(in.getName(), "graph input '" + in.getName() + "'");
      inputNames.add(in.getName());
      inputInfos.add(in);
    }
    for (int i = 0; i < g.getNodeCount(); i++) {
      OnnxNode node = decodeNode(i, g.getNode(i));
      nodes.add(node);
      for (String out : node.outputs()) {
        if (!out.isEmpty()) {
          define(out, node.describe());
        }
      }
    }
    for (OnnxNode node : nodes) {
      for (String in : node.inputs()) {
        if (!in.isEmpty() && !definedBy.containsKey(in)) {
          throw new OnnxFormatException(
              source
                  + ": "
                  + node.describe()
                  + " reads '"
                  + in
                  + "', which is never produced (no"
                  + " graph input, initializer or node output has that name)");
        }
      }
    }
    List<String> outputNames = new ArrayList<>();
    for (ValueInfoProto out : g.getOutputList()) {
      if (!definedBy.containsKey(out.getName())) {
        throw new OnnxFormatException(
            source + ": graph output '" + out.getName() + "' is never produced");
      }
      outputNames.add(out.getName());
    }
    List<OnnxNode> order = GraphOrder.prune(GraphOrder.sort(nodes, source), outputNames, source);
    Set<String> used = new HashSet<>(outputNames);
    for (OnnxNode n : order) {
      used.addAll(n.inputs());
    }
    foldConstants(order);
    List<OnnxNode> run = order.stream().filter(n -> !isConstantNode(n)).toList();
    checkTypes(run, inputNames, inputInfos);

    DType[] inputTypes = new DType[inputNames.size()];
    long[][] inputShapes = new long[inputNames.size()][];
    for (int i = 0; i < inputInfos.size(); i++) {
      declare(inputInfos.get(i), i, inputTypes, inputShapes);
    }
    long[][] outputShapes = new long[outputNames.size()][];
    for (int i = 0; i < outputNames.size(); i++) {
      declare(g.getOutput(i), i, new DType[outputNames.size()], outputShapes);
    }
    String producer = (model.getProducerName() + " " + model.getProducerVersion()).trim();
    OnnxModule module =
        new OnnxModule(
            inputNames,
            inputTypes,
            inputShapes,
            outputNames,
            outputShapes,
            slots.size(),
            opset,
            producer);
    try {
      populate(module, run, inputNames, outputNames, used);
      module.setTemplate(template(module));
    } catch (OnnxFormatException | RuntimeException e) {
      module.close();
      throw e;
    }
    LOG.debug(
        "imported {}: {} nodes, {} parameters, opset {}",
        source,
        run.size(),
        module.parameters().size(),
        opset);
    return module;
  }

  private int defaultOpset() throws OnnxFormatException {
    Integer found = null;
    for (OperatorSetIdProto id : model.getOpsetImportList()) {
      if (id.getDomain().isEmpty() || id.getDomain().equals("ai.onnx")) {
        found = (int) Math.min(Integer.MAX_VALUE, id.getVersion());
      }
    }
    if (found == null) {
      throw new OnnxFormatException(
          source + " imports no opset of the default ONNX domain (opset_import is missing)");
    }
    if (found < MIN_OPSET || found > MAX_OPSET) {
      throw new OnnxFormatException(
          source
              + " uses ONNX opset "
              + found
              + "; Ember imports opsets "
              + MIN_OPSET
              + " to "
              + MAX_OPSET);
    }
    return found;
  }

  private void define(String name, String who) throws OnnxFormatException {
    String prev = definedBy.putIfAbsent(name, who);
    if (prev != null) {
      throw new OnnxFormatException(
          source + ": value '" + name + "' is defined twice, by " + prev + " and by " + who);
    }
    slots.put(name, slots.size());
  }

  private OnnxNode decodeNode(int index, NodeProto p) throws OnnxFormatException {
    String who = OnnxNode.describe(index, p.getName(), p.getOpType());
    Map<String, Object> attrs = new LinkedHashMap<>();
    try {
      for (AttributeProto a : p.getAttributeList()) {
        attrs.put(a.getName(), attribute(a, who));
      }
    } catch (OnnxFormatException e) {
      new Attributes(who, attrs).close();
      throw e;
    }
    return new OnnxNode(
        index,
        p.getName(),
        p.getOpType(),
        p.getDomain(),
        List.copyOf(p.getInputList()),
        List.copyOf(p.getOutputList()),
        new Attributes(source + ": " + who, attrs));
  }

  private Object attribute(AttributeProto a, String who) throws OnnxFormatException {
    AttributeProto.AttributeType type = a.getType();
    if (type == AttributeProto.AttributeType.UNDEFINED) {
      type = guessType(a); // IR < 4 files may leave the type out
    }
    return switch (type) {
      case FLOAT -> a.getF();
      case INT -> a.getI();
      case STRING -> a.getS().toStringUtf8();
      case FLOATS -> {
        float[] v = new float[a.getFloatsCount()];
        for (int i = 0; i < v.length; i++) {
          v[i] = a.getFloats(i);
        }
        yield v;
      }
      case INTS -> a.getIntsList().stream().mapToLong(Long::longValue).toArray();
      case TENSOR -> decoder.decode(a.getT(), who + " attribute '" + a.getName() + "'");
      default ->
          throw new OnnxFormatException(
              source
                  + ": "
                  + who
                  + " has attribute '"
                  + a.getName()
                  + "' of type "
                  + type
                  + ", which Ember does not support (subgraphs, sparse tensors and lists of strings"
                  + " or tensors)");
    };
  }

  private static AttributeProto.AttributeType guessType(AttributeProto a) {
    if (a.hasT()) {
      return AttributeProto.AttributeType.TENSOR;
    }
    if (a.getIntsCount() > 0) {
      return AttributeProto.AttributeType.INTS;
    }
    if (a.getFloatsCount() > 0) {
      return AttributeProto.AttributeType.FLOATS;
    }
    if (!a.getS().isEmpty()) {
      return AttributeProto.AttributeType.STRING;
    }
    if (a.getF() != 0) {
      return AttributeProto.AttributeType.FLOAT;
    }
    return AttributeProto.AttributeType.INT;
  }

  private static boolean isConstantNode(OnnxNode n) {
    return n.opType().equals("Constant") && isDefaultDomain(n);
  }

  private static boolean isDefaultDomain(OnnxNode n) {
    return n.domain().isEmpty() || n.domain().equals("ai.onnx");
  }

  /** Constant nodes become values known at load time. */
  private void foldConstants(List<OnnxNode> order) throws OnnxFormatException {
    for (OnnxNode n : order) {
      if (!isConstantNode(n)) {
        continue;
      }
      Attributes a = n.attributes();
      NDArray value;
      if (a.has("value")) {
        value = a.getTensor("value").share();
      } else if (a.has("value_float")) {
        value = NDArray.scalar(a.getFloat("value_float", 0), DType.FLOAT32);
      } else if (a.has("value_int")) {
        value = NDArray.scalar(a.getInt("value_int"), DType.INT64);
      } else if (a.has("value_floats")) {
        float[] v = a.getFloats("value_floats");
        value = NDArray.of(v, v.length);
      } else if (a.has("value_ints")) {
        long[] v = a.getInts("value_ints");
        value = NDArray.of(v, v.length);
      } else {
        throw new OnnxFormatException(
            source
                + ": "
                + n.describe()
                + " has none of the attributes Ember reads (value,"
                + " value_float(s), value_int(s)); it has "
                + a.names());
      }
      a.close();
      if (n.outputs().size() != 1 || n.outputs().get(0).isEmpty()) {
        value.close();
        throw new OnnxFormatException(source + ": " + n.describe() + " must have one output");
      }
      constantValues.put(n.outputs().get(0), value);
    }
  }

  /** The dtype of a value known at load time, or from a graph input's declaration; else null. */
  private DType staticType(String name, Map<String, DType> declared) {
    NDArray v = initializers.get(name);
    if (v == null) {
      v = constantValues.get(name);
    }
    return v != null ? v.dtype() : declared.get(name);
  }

  /** Float inputs must be float, index inputs integer, where the type is known at load time. */
  private void checkTypes(List<OnnxNode> run, List<String> inputNames, List<ValueInfoProto> infos)
      throws OnnxFormatException {
    Map<String, DType> declared = new HashMap<>();
    for (int i = 0; i < infos.size(); i++) {
      TypeProto t = infos.get(i).getType();
      if (t.hasTensorType() && t.getTensorType().getElemType() != 0) {
        int code = t.getTensorType().getElemType();
        DType d = OnnxTypes.storage(code);
        if (d == null) {
          throw new OnnxFormatException(
              source
                  + ": graph input '"
                  + inputNames.get(i)
                  + "' has type "
                  + OnnxTypes.name(code)
                  + ", which Ember cannot hold");
        }
        declared.put(inputNames.get(i), d);
      }
    }
    for (OnnxNode n : run) {
      check(n, OpSignatures.floatInputs(n.opType()), true, declared);
      check(n, OpSignatures.intInputs(n.opType()), false, declared);
    }
  }

  private void check(OnnxNode n, int[] positions, boolean floating, Map<String, DType> declared)
      throws OnnxFormatException {
    if (positions == null) {
      return;
    }
    for (int i : positions) {
      if (!n.hasInput(i)) {
        continue;
      }
      String name = n.inputs().get(i);
      DType d = staticType(name, declared);
      if (d == null) {
        continue;
      }
      boolean ok = floating ? d.isFloatingPoint() : Values.isInteger(d);
      if (!ok) {
        throw new OnnxFormatException(
            source
                + ": "
                + n.describe()
                + " input "
                + i
                + " '"
                + name
                + "' ("
                + definedBy.get(name)
                + ") must be "
                + (floating ? "a float tensor" : "an int64 tensor")
                + ", got "
                + d);
      }
    }
  }

  private static void declare(ValueInfoProto info, int i, DType[] types, long[][] shapes) {
    TypeProto t = info.getType();
    if (!t.hasTensorType()) {
      return;
    }
    int code = t.getTensorType().getElemType();
    types[i] = code == 0 ? null : OnnxTypes.storage(code);
    if (t.getTensorType().hasShape()) {
      List<TensorShapeProto.Dimension> dims = t.getTensorType().getShape().getDimList();
      long[] s = new long[dims.size()];
      for (int d = 0; d < s.length; d++) {
        s[d] = dims.get(d).hasDimValue() ? dims.get(d).getDimValue() : -1;
      }
      shapes[i] = s;
    }
  }

  private void populate(
      OnnxModule module,
      List<OnnxNode> run,
      List<String> inputNames,
      List<String> outputNames,
      Set<String> used)
      throws OnnxFormatException {
    for (int i = 0; i < inputNames.size(); i++) {
      module.bindInput(i, slots.get(inputNames.get(i)));
    }
    for (int i = 0; i < outputNames.size(); i++) {
      module.bindOutput(i, slots.get(outputNames.get(i)));
    }
    // which initializers are trained: floating ones read at some position that is not frozen
    Set<String> trained = new HashSet<>();
    Set<String> frozenUse = new HashSet<>();
    for (OnnxNode n : run) {
      int[] frozen = OpSignatures.frozenInputs(n.opType());
      for (int i = 0; i < n.inputs().size(); i++) {
        String in = n.inputs().get(i);
        final int pos = i;
        if (Arrays.stream(frozen).anyMatch(f -> f == pos)) {
          frozenUse.add(in);
        } else {
          trained.add(in);
        }
      }
    }
    trained.addAll(outputNames);
    List<String> weightNames = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : initializers.entrySet()) {
      String name = e.getKey();
      if (!used.contains(name)) {
        continue;
      }
      // 0-d floats are the constants of formulas (eps, 0.5, sqrt(2)), which exporters also
      // write as initializers; weights have at least one dim
      boolean isWeight = e.getValue().dtype().isFloatingPoint() && e.getValue().ndim() > 0;
      if (isWeight && (trained.contains(name) || frozenUse.contains(name))) {
        weightNames.add(name);
      }
    }
    Map<String, String[]> paths = ParameterPaths.assign(weightNames);
    for (Map.Entry<String, NDArray> e : new ArrayList<>(initializers.entrySet())) {
      String name = e.getKey();
      NDArray data = initializers.remove(name);
      if (!used.contains(name)) {
        LOG.debug("{}: initializer '{}' is not used; it is left out", source, name);
        data.close();
        continue;
      }
      int slot = slots.get(name);
      String[] path = paths.get(name);
      if (path == null) {
        module.bindConstant(slot, name, data);
      } else if (trained.contains(name)) {
        module.bindParameter(slot, name, path, data);
      } else if (isBatchNormStat(name, run)) {
        module.bindBuffer(slot, name, path, data);
      } else {
        module.bindConstant(slot, name, data);
      }
    }
    for (Map.Entry<String, NDArray> e : new ArrayList<>(constantValues.entrySet())) {
      module.bindConstant(slots.get(e.getKey()), e.getKey(), constantValues.remove(e.getKey()));
    }
    CompileContext cc = context(module, used);
    Map<Integer, Integer> lastUse = new HashMap<>();
    for (int step = 0; step < run.size(); step++) {
      for (String in : run.get(step).inputs()) {
        if (!in.isEmpty()) {
          lastUse.put(slots.get(in), step);
        }
      }
    }
    List<OnnxModule.Step> steps = new ArrayList<>();
    for (int step = 0; step < run.size(); step++) {
      OnnxNode n = run.get(step);
      OpCompiler compiler = isDefaultDomain(n) ? OnnxOps.get(n.opType()) : null;
      if (compiler == null) {
        throw new OnnxFormatException(
            source
                + ": "
                + n.describe()
                + " uses op '"
                + n.opType()
                + "'"
                + (isDefaultDomain(n) ? "" : " of domain '" + n.domain() + "'")
                + ", which Ember does not support; supported ops: "
                + OnnxOps.supported());
      }
      int need = OpSignatures.minInputs(n.opType(), opset);
      for (int i = 0; i < need; i++) {
        if (!n.hasInput(i)) {
          throw new OnnxFormatException(
              source
                  + ": "
                  + n.describe()
                  + " has "
                  + n.inputs().size()
                  + " inputs "
                  + n.inputs()
                  + "; "
                  + n.opType()
                  + " needs at least "
                  + need);
        }
      }
      if (n.outputs().isEmpty()) {
        throw new OnnxFormatException(source + ": " + n.describe() + " has no outputs");
      }
      Kernel k = compiler.compile(n, cc);
      int[] ins = new int[n.inputs().size()];
      for (int i = 0; i < ins.length; i++) {
        ins[i] = n.hasInput(i) ? slots.get(n.inputs().get(i)) : -1;
      }
      int[] outs = new int[n.outputs().size()];
      for (int o = 0; o < outs.length; o++) {
        String name = n.outputs().get(o);
        outs[o] = !name.isEmpty() && used.contains(name) ? slots.get(name) : -1;
      }
      final int at = step;
      int[] free =
          lastUse.entrySet().stream()
              .filter(e -> e.getValue() == at)
              .mapToInt(Map.Entry::getKey)
              .toArray();
      steps.add(new OnnxModule.Step(n, k, ins, outs, free));
    }
    module.setSteps(steps);
    module.eval();
  }

  /**
   * The model as read, for {@link OnnxModule#exportOnnx}: weights (parameters and buffers) and
   * externally stored tensors lose their data, which export writes from the module's current
   * values; everything else stays as in the file.
   */
  private ModelProto template(OnnxModule module) {
    ModelProto.Builder m = model.toBuilder();
    GraphProto.Builder g = m.getGraphBuilder();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      boolean weight = module.initializerKeys().containsKey(t.getName());
      boolean external = t.getDataLocationValue() == TensorProto.DataLocation.EXTERNAL_VALUE;
      if (weight || external) {
        g.setInitializer(
            i,
            TensorProto.newBuilder()
                .setName(t.getName())
                .setDataType(t.getDataType())
                .addAllDims(t.getDimsList()));
      }
    }
    return m.build();
  }

  private static boolean isBatchNormStat(String name, List<OnnxNode> run) {
    for (OnnxNode n : run) {
      if (n.opType().equals("BatchNormalization")
          && (name.equals(input(n, 3)) || name.equals(input(n, 4)))) {
        return true;
      }
    }
    return false;
  }

  private static String input(OnnxNode n, int i) {
    return i < n.inputs().size() ? n.inputs().get(i) : null;
  }

  private CompileContext context(OnnxModule module, Set<String> used) {
    return new CompileContext() {
      @Override
      public int opset() {
        return opset;
      }

      @Override
      public NDArray constant(String name) {
        return module.constantValue(slots.get(name));
      }

      @Override
      public boolean isUsed(String name) {
        return used.contains(name);
      }

      @Override
      public Dropout dropout(OnnxNode node, double p) {
        return module.addDropout(node, p);
      }
    };
  }
}
