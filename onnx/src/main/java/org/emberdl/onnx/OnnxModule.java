package org.emberdl.onnx;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Dropout;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;
import org.emberdl.onnx.proto.GraphProto;
import org.emberdl.onnx.proto.ModelProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * A model imported from ONNX ({@link Onnx#load}): the graph's nodes run in topological order on
 * Ember's autograd ops, so {@code loss.backward()} reaches every weight.
 *
 * <p>Floating initializers with at least one dim are {@link Parameter}s named as in the file:
 * {@code fc1.weight} is parameter {@code weight} of child {@code fc1}, so {@code
 * namedParameters()}, the state dict and freezing by name prefix use PyTorch's names. A name that
 * cannot be such a path (an empty segment, or a prefix that is itself a weight, as {@code a.b}
 * beside {@code a}) has its dots replaced by {@code _}; {@link #initializerKeys()} gives the
 * mapping. BatchNormalization's running mean and variance are buffers. Integer initializers, 0-d
 * floats (the constants of formulas) and Constant nodes are constants outside the state dict.
 *
 * <p>Modes: {@link Onnx#load} returns the module in eval mode, where it computes what the ONNX
 * graph means for inference. In training mode BatchNormalization uses batch statistics and updates
 * its running ones, and Dropout drops with the node's ratio (through {@link Dropout} children,
 * which Spark seeds per task), as the PyTorch model did in {@code train()}.
 */
public final class OnnxModule extends Module {
  /** Where a value comes from at the start of a run. */
  enum SlotKind {
    INPUT,
    PARAMETER,
    BUFFER,
    CONSTANT,
    NODE
  }

  /** One node, compiled. */
  record Step(OnnxNode node, Kernel kernel, int[] inputs, int[] outputs, int[] freeAfter) {}

  private final List<String> inputNames;
  private final List<String> outputNames;
  private final int[] inputSlots;
  private final DType[] inputTypes;
  private final long[][] inputShapes;
  private final int[] outputSlots;
  private final long[][] outputShapes;
  private final SlotKind[] kinds;
  private final Parameter[] parameterSlots;
  private final List<Supplier<NDArray>> bufferSlots;
  private final Tensor[] constantSlots;
  private final List<NDArray> constants = new ArrayList<>();
  private final Map<String, String> initializerKeys = new LinkedHashMap<>();
  private List<Step> steps = List.of();
  private final int opset;
  private final String producer;
  private int dropouts;
  private ModelProto template;
  private final Map<String, Integer> valueSlots = new LinkedHashMap<>();

  OnnxModule(
      List<String> inputNames,
      DType[] inputTypes,
      long[][] inputShapes,
      List<String> outputNames,
      long[][] outputShapes,
      int slotCount,
      int opset,
      String producer) {
    this.inputNames = List.copyOf(inputNames);
    this.inputTypes = inputTypes;
    this.inputShapes = inputShapes;
    this.outputNames = List.copyOf(outputNames);
    this.outputShapes = outputShapes;
    this.inputSlots = new int[inputNames.size()];
    this.outputSlots = new int[outputNames.size()];
    this.kinds = new SlotKind[slotCount];
    Arrays.fill(kinds, SlotKind.NODE);
    this.parameterSlots = new Parameter[slotCount];
    this.bufferSlots = new ArrayList<>(Collections.nCopies(slotCount, null));
    this.constantSlots = new Tensor[slotCount];
    this.opset = opset;
    this.producer = producer;
  }

  // ---------------------------------------------------------------------------------------------
  // Building (OnnxImporter)

  void bindInput(int index, int slot) {
    inputSlots[index] = slot;
    kinds[slot] = SlotKind.INPUT;
  }

  void bindOutput(int index, int slot) {
    outputSlots[index] = slot;
  }

  /** Registers a floating initializer as a parameter under its (dotted) key. */
  Parameter bindParameter(int slot, String initializer, String[] path, NDArray data) {
    Parameter p;
    if (path.length == 1) {
      p = registerParameter(path[0], data);
    } else {
      p = container(path).addParameter(path[path.length - 1], data);
    }
    kinds[slot] = SlotKind.PARAMETER;
    parameterSlots[slot] = p;
    initializerKeys.put(initializer, String.join(".", path));
    return p;
  }

  /** Registers an initializer as a buffer (BatchNorm running statistics) under its key. */
  void bindBuffer(int slot, String initializer, String[] path, NDArray data) {
    String leaf = path[path.length - 1];
    if (path.length == 1) {
      registerBuffer(leaf, data);
      bufferSlots.set(slot, () -> buffer(leaf));
    } else {
      ParameterTree t = container(path);
      t.addBuffer(leaf, data);
      bufferSlots.set(slot, () -> t.getBuffer(leaf));
    }
    kinds[slot] = SlotKind.BUFFER;
    initializerKeys.put(initializer, String.join(".", path));
  }

  /** A constant value (integer initializer, Constant node); owned by this module. */
  void bindConstant(int slot, String name, NDArray data) {
    valueSlots.put(name, slot);
    constants.add(data);
    kinds[slot] = SlotKind.CONSTANT;
    constantSlots[slot] = Tensor.of(data.share());
  }

  /** The value of a constant slot, or null for any other slot (parameters may change). */
  NDArray constantValue(int slot) {
    return kinds[slot] == SlotKind.CONSTANT ? constantSlots[slot].data() : null;
  }

  private ParameterTree container(String[] path) {
    Module first = children().get(path[0]);
    ParameterTree t =
        first instanceof ParameterTree pt ? pt : registerModule(path[0], new ParameterTree());
    for (int i = 1; i < path.length - 1; i++) {
      t = t.child(path[i]);
    }
    return t;
  }

  /** A Dropout child for a Dropout node, under a name no weight uses. */
  Dropout addDropout(OnnxNode node, double p) {
    String name;
    do {
      name = "dropout_" + dropouts++;
    } while (children().containsKey(name)
        || namedParameters().containsKey(name)
        || namedBuffers().containsKey(name));
    return registerModule(name, new Dropout(p, new Generator(0)));
  }

  void setTemplate(ModelProto template) {
    this.template = template;
  }

  void setSteps(List<Step> steps) {
    this.steps = List.copyOf(steps);
  }

  // ---------------------------------------------------------------------------------------------
  // Running

  /**
   * Runs the graph on its single input and returns its first output (further outputs are
   * discarded). The caller owns the result.
   *
   * @throws IllegalStateException when the graph has more than one input
   * @throws IllegalArgumentException when the input's type or shape contradicts the graph's
   *     declaration
   * @throws OnnxExecutionException naming the node that failed
   */
  @Override
  public Tensor forward(Tensor input) {
    if (inputNames.size() != 1) {
      throw new IllegalStateException(
          "this ONNX graph has inputs " + inputNames + "; call forward(Map) with each by name");
    }
    Tensor[] out = run(new Tensor[] {input});
    for (int i = 1; i < out.length; i++) {
      out[i].close();
    }
    return out[0];
  }

  /**
   * Runs the graph on named inputs and returns every output by name, in the graph's order. The
   * caller owns the results.
   *
   * @throws IllegalArgumentException for a missing or unknown input, or one whose type or shape
   *     contradicts the graph's declaration
   * @throws OnnxExecutionException naming the node that failed
   */
  public Map<String, Tensor> forward(Map<String, Tensor> inputs) {
    for (String name : inputs.keySet()) {
      if (!inputNames.contains(name)) {
        throw new IllegalArgumentException(
            "the graph has no input '" + name + "'; its inputs are " + inputNames);
      }
    }
    Tensor[] in = new Tensor[inputNames.size()];
    for (int i = 0; i < in.length; i++) {
      in[i] = inputs.get(inputNames.get(i));
      if (in[i] == null) {
        throw new IllegalArgumentException(
            "missing input '" + inputNames.get(i) + "'; the graph's inputs are " + inputNames);
      }
    }
    Tensor[] out = run(in);
    Map<String, Tensor> result = new LinkedHashMap<>();
    for (int i = 0; i < out.length; i++) {
      Tensor prev = result.put(outputNames.get(i), out[i]);
      if (prev != null) {
        prev.close();
      }
    }
    return result;
  }

  private void checkInput(int i, Tensor t) {
    String name = inputNames.get(i);
    if (inputTypes[i] != null && t.dtype() != inputTypes[i]) {
      throw new IllegalArgumentException(
          "input '" + name + "' must be " + inputTypes[i] + ", got " + t.dtype());
    }
    long[] declared = inputShapes[i];
    if (declared == null) {
      return;
    }
    boolean ok = declared.length == t.ndim();
    for (int d = 0; ok && d < declared.length; d++) {
      ok = declared[d] <= 0 || declared[d] == t.shape(d);
    }
    if (!ok) {
      StringBuilder want = new StringBuilder("[");
      for (int d = 0; d < declared.length; d++) {
        want.append(d > 0 ? ", " : "").append(declared[d] > 0 ? declared[d] + "" : "?");
      }
      throw new IllegalArgumentException(
          "input '" + name + "' must have shape " + want + "], got " + Arrays.toString(t.shape()));
    }
  }

  private Tensor[] run(Tensor[] in) {
    for (int i = 0; i < in.length; i++) {
      checkInput(i, in[i]);
    }
    Tensor[] values = new Tensor[kinds.length];
    boolean[] owned = new boolean[kinds.length];
    for (int i = 0; i < in.length; i++) {
      values[inputSlots[i]] = in[i];
    }
    for (int s = 0; s < kinds.length; s++) {
      switch (kinds[s]) {
        case PARAMETER -> values[s] = parameterSlots[s];
        case CONSTANT -> values[s] = constantSlots[s];
        case BUFFER -> {
          values[s] = Tensor.of(bufferSlots.get(s).get().share());
          owned[s] = true;
        }
        default -> {}
      }
    }
    boolean training = isTraining();
    boolean[] isOutput = new boolean[kinds.length];
    for (int s : outputSlots) {
      isOutput[s] = true;
    }
    try {
      for (Step step : steps) {
        Tensor[] args = new Tensor[step.inputs().length];
        for (int i = 0; i < args.length; i++) {
          args[i] = step.inputs()[i] < 0 ? null : values[step.inputs()[i]];
        }
        Tensor[] res;
        try {
          res = step.kernel().run(args, training);
        } catch (RuntimeException e) {
          throw new OnnxExecutionException(
              step.node().describe()
                  + " failed on inputs "
                  + describe(step.node(), args)
                  + ": "
                  + e.getMessage(),
              e);
        }
        for (int o = 0; o < step.outputs().length; o++) {
          Tensor t = o < res.length ? res[o] : null;
          int slot = step.outputs()[o];
          if (slot < 0) {
            if (t != null) {
              t.close();
            }
            continue;
          }
          if (t == null) {
            throw new OnnxExecutionException(
                step.node().describe()
                    + " produced no output "
                    + o
                    + " ('"
                    + step.node().outputs().get(o)
                    + "')");
          }
          values[slot] = t;
          owned[slot] = true;
        }
        for (int s : step.freeAfter()) {
          if (owned[s] && !isOutput[s]) {
            values[s].close();
            values[s] = null;
            owned[s] = false;
          }
        }
      }
      Tensor[] out = new Tensor[outputSlots.length];
      for (int i = 0; i < out.length; i++) {
        int s = outputSlots[i];
        if (owned[s]) {
          out[i] = values[s];
          owned[s] = false; // handed to the caller
        } else {
          out[i] = Values.share(values[s]); // an input, weight or constant, or a repeated output
        }
      }
      return out;
    } finally {
      for (int s = 0; s < values.length; s++) {
        if (owned[s] && values[s] != null) {
          values[s].close();
        }
      }
    }
  }

  private static String describe(OnnxNode node, Tensor[] args) {
    StringBuilder sb = new StringBuilder("(");
    for (int i = 0; i < args.length; i++) {
      sb.append(i > 0 ? ", " : "").append('\'').append(node.inputs().get(i)).append("' ");
      sb.append(args[i] == null ? "none" : args[i].dtype() + Arrays.toString(args[i].shape()));
    }
    return sb.append(')').toString();
  }

  // ---------------------------------------------------------------------------------------------
  // Export

  /**
   * The imported model with this module's current weights: the file's graph, opsets and metadata
   * unchanged, each parameter and buffer initializer holding its value now (e.g. after
   * fine-tuning), and tensors the file kept in external data stored inline.
   *
   * @throws IllegalStateException when a weight was FLOAT16 or BFLOAT16 in the file (Ember holds it
   *     as float32 and does not narrow it back), or the weights exceed protobuf's 2 GiB
   */
  public ModelProto toModelProto() {
    ModelProto.Builder m = template.toBuilder();
    GraphProto.Builder g = m.getGraphBuilder();
    Map<String, Parameter> params = namedParameters();
    Map<String, NDArray> buffers = namedBuffers();
    long bytes = 0;
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      String key = initializerKeys.get(t.getName());
      NDArray value = null;
      if (key != null) {
        value = params.containsKey(key) ? params.get(key).data() : buffers.get(key);
      } else if (valueSlots.containsKey(t.getName())) {
        value = constantValue(valueSlots.get(t.getName()));
      }
      if (value == null || (key == null && t.getDataLocationValue() == 0 && hasData(t))) {
        continue; // kept as in the file
      }
      TensorProto written = OnnxWeights.encode(t, value);
      bytes += written.getSerializedSize();
      if (bytes > Onnx.MAX_MODEL_BYTES) {
        throw new IllegalStateException(
            "the weights exceed protobuf's "
                + Onnx.MAX_MODEL_BYTES
                + " bytes; Ember does not"
                + " write external data");
      }
      g.setInitializer(i, written);
    }
    return m.build();
  }

  private static boolean hasData(TensorProto t) {
    return !t.getRawData().isEmpty()
        || t.getFloatDataCount() > 0
        || t.getInt32DataCount() > 0
        || t.getInt64DataCount() > 0
        || t.getDoubleDataCount() > 0
        || t.getUint64DataCount() > 0
        || t.getDimsList().stream().anyMatch(d -> d == 0);
  }

  /** {@link #toModelProto()} as bytes. */
  public byte[] exportOnnxBytes() {
    return toModelProto().toByteArray();
  }

  /**
   * Writes {@link #toModelProto()} to {@code out} (replacing it; written beside it and moved into
   * place, so a reader never sees half a file).
   */
  public void exportOnnx(Path out) throws IOException {
    byte[] bytes = exportOnnxBytes();
    Path dir = out.toAbsolutePath().getParent();
    Path tmp = Files.createTempFile(dir, out.getFileName().toString(), ".tmp");
    try {
      Files.write(tmp, bytes);
      Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Description

  /** The graph's input names (initializers listed as inputs excluded), in order. */
  public List<String> inputNames() {
    return inputNames;
  }

  /** The graph's output names, in order. */
  public List<String> outputNames() {
    return outputNames;
  }

  /**
   * The declared shape of input {@code name}: a dim of -1 is symbolic (e.g. the batch); null when
   * the file declares none.
   *
   * @throws IllegalArgumentException for an unknown input
   */
  public long[] inputShape(String name) {
    long[] s = inputShapes[indexOf(inputNames, name, "input")];
    return s == null ? null : s.clone();
  }

  /** The dtype input {@code name} must have (float32 for ONNX FLOAT), or null when undeclared. */
  public DType inputType(String name) {
    return inputTypes[indexOf(inputNames, name, "input")];
  }

  /** The declared shape of output {@code name} (-1 for symbolic dims), or null when undeclared. */
  public long[] outputShape(String name) {
    long[] s = outputShapes[indexOf(outputNames, name, "output")];
    return s == null ? null : s.clone();
  }

  private static int indexOf(List<String> names, String name, String what) {
    int i = names.indexOf(name);
    if (i < 0) {
      throw new IllegalArgumentException(
          "the graph has no " + what + " '" + name + "'; its " + what + "s are " + names);
    }
    return i;
  }

  /** The default domain's opset version the model imports. */
  public int opsetVersion() {
    return opset;
  }

  /** The producer recorded in the file (e.g. {@code pytorch 1.13.0}). */
  public String producer() {
    return producer;
  }

  /** Number of nodes that run (Constant nodes and nodes no output depends on are left out). */
  public int nodeCount() {
    return steps.size();
  }

  /**
   * Initializer name -> its key in {@code namedParameters()} / {@code namedBuffers()} (the same
   * string unless the name could not be a dotted path). Integer initializers are constants and not
   * listed.
   */
  public Map<String, String> initializerKeys() {
    return Collections.unmodifiableMap(initializerKeys);
  }

  @Override
  public void close() {
    for (Tensor t : constantSlots) {
      if (t != null) {
        t.close();
      }
    }
    for (NDArray c : constants) {
      c.close();
    }
    constants.clear();
    for (Step s : steps) {
      s.node().attributes().close();
    }
    super.close();
  }

  @Override
  public String toString() {
    return "OnnxModule(inputs="
        + inputNames
        + ", outputs="
        + outputNames
        + ", nodes="
        + steps.size()
        + ", opset="
        + opset
        + ", parameters="
        + parameters().size()
        + ")";
  }
}
