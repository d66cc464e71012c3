package org.emberdl.spark.internal.local;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.spark.EmberParams;
import org.emberdl.spark.ModuleFactory;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.io.Safetensors;

/**
 * What network a stage trains, resolved from its Params into one serializable value that the
 * executors rebuild the network from: a {@link ModuleFactory} class, a {@link NetworkSpec} string,
 * or MLlib-style layer sizes (in that order of precedence).
 */
public final class NetworkDefinition implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String spec;
  private final int[] inputShape;
  private final String factoryClass;

  private NetworkDefinition(String spec, int[] inputShape, String factoryClass) {
    this.spec = spec;
    this.inputShape = inputShape.clone();
    this.factoryClass = factoryClass;
  }

  /**
   * The stage's network.
   *
   * @throws IllegalArgumentException when neither layers, network nor moduleFactory is set, or when
   *     network/moduleFactory lack an inputShape
   */
  public static NetworkDefinition of(EmberParams<?> params) {
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

  /**
   * A new network with weights drawn from {@code gen}. A spec network's size is known without
   * building it, so it is checked first against the off-heap memory the JVM may still allocate (the
   * allocator's limit is {@code spark.ember.memoryLimit} on executors): a spec such as {@code
   * linear(2000000000)} fails here with the sizes, not midway with an {@code OutOfMemoryError}.
   *
   * @throws IllegalStateException when a spec network's weights do not fit the memory left
   */
  public Module build(Generator gen) {
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

  /** Elements of one example's features. */
  public int inputSize() {
    return numel(inputShape);
  }

  /** Outputs per example, by building the network once when it comes from a factory. */
  public int outputSize() {
    if (factoryClass.isEmpty()) {
      return numel(NetworkSpec.outputShape(spec, inputShape));
    }
    throw new IllegalStateException("outputSize of a factory network is found by a forward pass");
  }

  public boolean fromFactory() {
    return !factoryClass.isEmpty();
  }

  /** A description for logs. */
  @Override
  public String toString() {
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
