package org.emberdl.spark.internal.local;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.nn.TokenInput;
import org.emberdl.onnx.Onnx;
import org.emberdl.onnx.OnnxFormatException;
import org.emberdl.onnx.OnnxModule;
import org.emberdl.spark.EmberParams;
import org.emberdl.spark.ModuleFactory;
import org.emberdl.spark.internal.io.EmberModel;
import org.emberdl.spark.internal.io.OnnxFiles;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;

/**
 * What network a stage trains, resolved from its Params into one serializable value that the
 * executors rebuild the network from: an ONNX model's bytes (a model's ONNX graph, or the file
 * {@code initialModel} names, rebuilt with {@link Onnx#load(byte[])}), a {@link ModuleFactory}
 * class, a {@link NetworkSpec} string, or MLlib-style layer sizes (in that order of precedence;
 * {@code initialModel} excludes the others).
 */
public final class NetworkDefinition implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String spec;
  private final int[] inputShape;
  private final String factoryClass;
  // The ONNX model's bytes (null unless the network is an ONNX graph). A fit ships them once per
  // executor as a broadcast (sharedBy), not with every round's closure: they hold the weights too.
  private transient byte[] onnx;
  private Broadcast<byte[]> onnxShared;
  private final String onnxSource; // names the graph in messages
  private final int onnxOutputs;
  private String[] frozenPrefixes = new String[0];

  private NetworkDefinition(String spec, int[] inputShape, String factoryClass) {
    this(spec, inputShape, factoryClass, null, null, 0);
  }

  private NetworkDefinition(
      String spec,
      int[] inputShape,
      String factoryClass,
      byte[] onnx,
      String onnxSource,
      int onnxOutputs) {
    this.spec = spec;
    this.inputShape = inputShape.clone();
    this.factoryClass = factoryClass;
    this.onnx = onnx;
    this.onnxSource = onnxSource;
    this.onnxOutputs = onnxOutputs;
  }

  /**
   * The stage's network.
   *
   * @throws IllegalArgumentException when neither layers, network nor moduleFactory is set, or when
   *     network/moduleFactory lack an inputShape
   */
  public static NetworkDefinition of(EmberParams<?> params) {
    NetworkDefinition def = resolve(params);
    if (!(params instanceof EmberModel<?>)) {
      // a fit's network; a model only scores, whatever frozenPrefixes it was trained with
      def.frozenPrefixes = params.getFrozenPrefixes().clone();
    }
    return def;
  }

  private static NetworkDefinition resolve(EmberParams<?> params) {
    if (params instanceof EmberModel<?> model && model.onnxGraph() != null) {
      String from = params.getInitialModel();
      return onnx(
          model.onnxGraph(),
          "the ONNX network of model '"
              + params.uid()
              + "'"
              + (from.isEmpty() ? "" : " (from " + from + ")"),
          params);
    }
    String initial = params.getInitialModel();
    if (!initial.isEmpty()) {
      if (params instanceof EmberModel<?>) {
        // a model keeps its graph (saved as data/network.onnx); the path is only its origin
        throw new IllegalStateException(
            "model '"
                + params.uid()
                + "' was fine-tuned from initialModel "
                + initial
                + " but holds no ONNX graph");
      }
      checkExclusive(params);
      return onnx(OnnxFiles.read(initial, "initialModel"), "initialModel " + initial, params);
    }
    String factory = params.getModuleFactory();
    String network = params.getNetwork();
    boolean hasShape = params.isDefined(params.inputShape());
    if (!factory.isEmpty() || !network.isEmpty()) {
      if (!hasShape) {
        throw new IllegalArgumentException(
            "inputShape must be set with "
                + (factory.isEmpty() ? "network" : "moduleFactory")
                + " (e.g. setInputShape(new int[] {1, 28, 28}))");
      }
      NetworkDefinition def =
          new NetworkDefinition(
              factory.isEmpty() ? network : null, params.getInputShape(), factory);
      if (factory.isEmpty()) {
        NetworkSpec.outputShape(network, def.inputShape); // validates the spec on the driver
      }
      return def;
    }
    if (!params.isDefined(params.layers())) {
      throw new IllegalArgumentException(
          "set the network: layers (e.g. [784, 256, 128, 10]), network with inputShape, or "
              + "moduleFactory with inputShape");
    }
    int[] layers = params.getLayers();
    int[] shape = hasShape ? params.getInputShape() : new int[] {layers[0]};
    if (numel(shape) != layers[0]) {
      throw new IllegalArgumentException(
          "inputShape "
              + Arrays.toString(shape)
              + " has "
              + numel(shape)
              + " elements but layers[0] is "
              + layers[0]);
    }
    return new NetworkDefinition(NetworkSpec.mlp(layers), shape, "");
  }

  /** initialModel defines the network: layers, network and moduleFactory would contradict it. */
  private static void checkExclusive(EmberParams<?> params) {
    List<String> also = new ArrayList<>();
    if (params.isSet(params.layers())) {
      also.add("layers=" + Arrays.toString(params.getLayers()));
    }
    if (!params.getNetwork().isEmpty()) {
      also.add("network='" + params.getNetwork() + "'");
    }
    if (!params.getModuleFactory().isEmpty()) {
      also.add("moduleFactory=" + params.getModuleFactory());
    }
    if (!also.isEmpty()) {
      throw new IllegalArgumentException(
          "initialModel ("
              + params.getInitialModel()
              + ") defines the network, so it cannot be combined with "
              + String.join(", ", also)
              + "; unset "
              + (also.size() == 1 ? "it" : "them"));
    }
  }

  /**
   * The network of an ONNX model: the graph is imported once here, so a file Ember cannot import, a
   * graph with other than one float input, or an inputShape that contradicts the graph fails on the
   * driver naming {@code source}, not later on an executor.
   *
   * @throws IllegalArgumentException naming {@code source} (and inputShape where it is the cause)
   */
  public static NetworkDefinition onnx(byte[] bytes, String source, EmberParams<?> params) {
    boolean hasShape = params.isDefined(params.inputShape());
    try (OnnxModule m = loadOnnx(bytes, source)) {
      if (m.inputNames().size() != 1) {
        throw new IllegalArgumentException(
            source
                + " has inputs "
                + m.inputNames()
                + "; an Ember network takes one input (the features column)");
      }
      String input = m.inputNames().get(0);
      DType type = m.inputType(input);
      if (type != null && type != DType.FLOAT32) {
        throw new IllegalArgumentException(
            source
                + ": input '"
                + input
                + "' is "
                + type
                + "; an Ember network reads float32 features");
      }
      long[] declared = m.inputShape(input);
      int[] shape =
          hasShape
              ? checkShape(params.getInputShape(), declared, input, source)
              : shapeOf(declared, input, source);
      int outputs = countOutputs(m, shape, source);
      return new NetworkDefinition(null, shape, "", bytes, source, outputs);
    }
  }

  private static OnnxModule loadOnnx(byte[] bytes, String source) {
    try {
      return Onnx.load(bytes);
    } catch (OnnxFormatException e) {
      // the importer names the bytes by their count; name them by where they came from
      String label = "ONNX model (" + bytes.length + " bytes)";
      String m = String.valueOf(e.getMessage());
      throw new IllegalArgumentException(
          m.contains(label)
              ? m.replace(label, source)
              : source + " is not an ONNX model Ember can import: " + m,
          e);
    }
  }

  /** The user's inputShape, refused when it contradicts a dim the graph fixes. */
  private static int[] checkShape(int[] shape, long[] declared, String input, String source) {
    if (declared == null) {
      return shape;
    }
    boolean fits = declared.length == shape.length + 1;
    for (int i = 1; fits && i < declared.length; i++) {
      fits = declared[i] < 0 || declared[i] == shape[i - 1];
    }
    if (!fits) {
      throw new IllegalArgumentException(
          "inputShape "
              + Arrays.toString(shape)
              + " does not fit "
              + source
              + ": its input '"
              + input
              + "' has shape "
              + dims(declared)
              + " (batch first); set inputShape to "
              + dims(Arrays.copyOfRange(declared, 1, declared.length))
              + " or leave it unset");
    }
    return shape;
  }

  /** One example's shape from the graph's declaration, when every dim but the batch is fixed. */
  private static int[] shapeOf(long[] declared, String input, String source) {
    if (declared == null || declared.length < 2) {
      throw new IllegalArgumentException(
          source
              + ": input '"
              + input
              + "' declares "
              + (declared == null ? "no shape" : "shape " + dims(declared))
              + "; set inputShape (one example's shape, without the batch dim)");
    }
    int[] shape = new int[declared.length - 1];
    for (int i = 1; i < declared.length; i++) {
      if (declared[i] <= 0 || declared[i] > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            source
                + ": input '"
                + input
                + "' has shape "
                + dims(declared)
                + " whose dim "
                + i
                + " is not fixed; set inputShape (one example's shape, without the batch dim)");
      }
      shape[i - 1] = (int) declared[i];
    }
    return shape;
  }

  /** A symbolic dim prints as "?" (ONNX's dim_param). */
  private static String dims(long[] d) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < d.length; i++) {
      b.append(i == 0 ? "" : ", ").append(d[i] < 0 ? "?" : Long.toString(d[i]));
    }
    return b.append(']').toString();
  }

  /** Outputs per example, from an eval-mode forward pass of one zero example. */
  private static int countOutputs(OnnxModule m, int[] shape, String source) {
    int[] batch = new int[shape.length + 1];
    batch[0] = 1;
    System.arraycopy(shape, 0, batch, 1, shape.length);
    try (NoGrad ng = NoGrad.enter();
        MemoryScope scope = MemoryScope.open()) {
      Tensor out = m.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, batch)));
      long n = out.data().numel();
      if (n < 1 || n > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(source + " gives " + n + " outputs per example");
      }
      return (int) n;
    } catch (RuntimeException e) {
      if (e instanceof IllegalArgumentException iae && iae.getMessage().startsWith(source)) {
        throw iae;
      }
      throw new IllegalArgumentException(
          "inputShape "
              + Arrays.toString(shape)
              + " does not fit "
              + source
              + ": a batch of shape "
              + Arrays.toString(batch)
              + " fails in the graph: "
              + e.getMessage(),
          e);
    }
  }

  /**
   * A new network with weights drawn from {@code gen}. A spec network's size is known without
   * building it, so it is checked first against the off-heap memory the JVM may still allocate (the
   * allocator's limit is {@code spark.ember.memoryLimit} on executors): a spec such as {@code
   * linear(2000000000)} fails here with the sizes, not midway with an {@code OutOfMemoryError}.
   *
   * @throws IllegalStateException when a spec network's weights do not fit the memory left
   */
  public Module build(Generator gen) {
    Module m = buildUnfrozen(gen);
    try {
      FrozenParameters.freeze(m, frozenPrefixes, this);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
    return m;
  }

  private Module buildUnfrozen(Generator gen) {
    if (fromOnnx()) {
      // the graph's own weights; loading it allocates no more than its bytes justify
      return loadOnnx(graph(), onnxSource);
    }
    if (!factoryClass.isEmpty()) {
      return instantiateFactory().create(inputShape.clone(), gen);
    }
    long need = stateBytes();
    // What the CPU allocator may still hand out, and never more than physical memory: past that
    // an allocation fails (or the process is killed) midway instead of with these sizes.
    long left = Safetensors.defaultReadBudget();
    if (need > left) {
      throw new IllegalStateException(
          String.format(
              "the network %s needs %d MiB of off-heap memory for its weights, over the %d MiB"
                  + " this JVM may still allocate (bounded by %s on executors,"
                  + " -Demberdl.cpu.maxBytes and physical memory)",
              this, need >> 20, left >> 20, ExecutorEngine.MEMORY_LIMIT_CONF));
    }
    return NetworkSpec.build(spec, inputShape, gen);
  }

  /**
   * The state dict a spec network has (keys, dtypes, shapes), found without building it.
   *
   * @throws IllegalStateException for a factory network, whose state only its code knows
   */
  public List<Safetensors.TensorInfo> stateDictShapes() {
    if (fromFactory()) {
      throw new IllegalStateException("the state of a factory network is found by building it");
    }
    if (fromOnnx()) {
      try (Module m = buildUnfrozen(new Generator(0))) {
        List<Safetensors.TensorInfo> infos = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : m.stateDict().entrySet()) {
          NDArray a = e.getValue();
          infos.add(
              new Safetensors.TensorInfo(
                  e.getKey(), a.dtype(), a.shape(), a.numel() * a.dtype().byteSize()));
          a.close();
        }
        return infos;
      }
    }
    return NetworkSpec.stateDictShapes(spec, inputShape);
  }

  /** Bytes of a spec network's parameters and buffers. */
  long stateBytes() {
    long total = 0;
    for (Safetensors.TensorInfo t : stateDictShapes()) {
      total = Math.addExact(total, t.bytes());
    }
    return total;
  }

  /**
   * The user's factory. The class is loaded without running its static initializer, and its type
   * checked, before anything of it runs: only a {@link ModuleFactory} is ever initialized.
   */
  private ModuleFactory instantiateFactory() {
    Class<?> cls;
    try {
      cls = Class.forName(factoryClass, false, Thread.currentThread().getContextClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      throw new IllegalArgumentException(
          "cannot instantiate moduleFactory "
              + factoryClass
              + " (it needs a public no-argument constructor and must be on the classpath)",
          e);
    }
    if (!ModuleFactory.class.isAssignableFrom(cls)) {
      throw new IllegalArgumentException(
          "moduleFactory " + factoryClass + " does not implement " + ModuleFactory.class.getName());
    }
    try {
      return (ModuleFactory) cls.getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalArgumentException(
          "cannot instantiate moduleFactory "
              + factoryClass
              + " (it needs a public no-argument constructor and must be on the classpath)",
          e);
    }
  }

  /** The factory class's name, or empty for a spec network. */
  public String factoryClass() {
    return factoryClass;
  }

  /** The shape of one example. */
  public int[] inputShape() {
    return inputShape.clone();
  }

  /**
   * The token ids a spec network whose first layer is an embedding takes (rows of {@code
   * array<int>}/{@code array<long>} are checked against it), or null.
   */
  public TokenInput tokenInput() {
    return fromOnnx() || fromFactory() ? null : NetworkSpec.tokenInput(spec);
  }

  /** Elements of one example's features. */
  public int inputSize() {
    return numel(inputShape);
  }

  /** Outputs per example, by building the network once when it comes from a factory. */
  public int outputSize() {
    if (fromOnnx()) {
      return onnxOutputs;
    }
    if (factoryClass.isEmpty()) {
      return numel(NetworkSpec.outputShape(spec, inputShape));
    }
    throw new IllegalStateException("outputSize of a factory network is found by a forward pass");
  }

  public boolean fromFactory() {
    return !factoryClass.isEmpty();
  }

  /** Whether the network is an ONNX graph. */
  public boolean fromOnnx() {
    return onnx != null || onnxShared != null;
  }

  /** The ONNX model's bytes (not a copy: do not modify), or null. */
  public byte[] onnxGraph() {
    return fromOnnx() ? graph() : null;
  }

  private byte[] graph() {
    return onnx != null ? onnx : onnxShared.value();
  }

  /**
   * This network for a fit on {@code sc}: an ONNX graph travels to the executors as one broadcast
   * (fetched once per executor) instead of inside every round's task closure. Other networks are
   * returned as they are. {@link #unshare()} releases the broadcast.
   */
  public NetworkDefinition sharedBy(JavaSparkContext sc) {
    if (onnx == null) {
      return this;
    }
    NetworkDefinition d =
        new NetworkDefinition(spec, inputShape, factoryClass, onnx, onnxSource, onnxOutputs);
    d.frozenPrefixes = frozenPrefixes;
    d.onnxShared = sc.broadcast(onnx);
    return d;
  }

  /** Destroys the broadcast of {@link #sharedBy}, if any. */
  public void unshare() {
    if (onnxShared != null) {
      onnxShared.destroy();
    }
  }

  private void writeObject(ObjectOutputStream out) throws IOException {
    out.defaultWriteObject();
    out.writeObject(onnxShared == null ? onnx : null); // the broadcast carries them otherwise
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    onnx = (byte[]) in.readObject();
  }

  /** A description for logs. */
  @Override
  public String toString() {
    if (fromOnnx()) {
      return onnxSource + " on " + Arrays.toString(inputShape);
    }
    return fromFactory()
        ? factoryClass + " on " + Arrays.toString(inputShape)
        : spec + " on " + Arrays.toString(inputShape);
  }

  static int numel(int[] shape) {
    long n = 1;
    for (int s : shape) {
      n *= s;
    }
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("input shape " + Arrays.toString(shape) + " is too large");
    }
    return (int) n;
  }
}
