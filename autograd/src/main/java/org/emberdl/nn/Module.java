package org.emberdl.nn;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;

/**
 * A layer or model, as {@code torch.nn.Module}: it owns parameters, buffers and submodules,
 * registered in order under names; {@link #namedParameters()} gives PyTorch's dotted names ({@code
 * fc1.weight}), which are also the state-dict and safetensors keys, so weights move between Ember
 * and PyTorch unchanged.
 *
 * <pre>{@code
 * class Mlp extends Module {
 *   final Linear fc1 = registerModule("fc1", new Linear(784, 128, gen));
 *   final Linear fc2 = registerModule("fc2", new Linear(128, 10, gen));
 *   public Tensor forward(Tensor x) { return fc2.forward(fc1.forward(x).relu()); }
 * }
 * }</pre>
 *
 * <p>Parameters, buffers and their gradients are not scoped: they live until {@link #close()}.
 */
public abstract class Module implements AutoCloseable {
  private final Map<String, Parameter> parameters = new LinkedHashMap<>();
  private final Map<String, NDArray> buffers = new LinkedHashMap<>();
  private final Map<String, Module> modules = new LinkedHashMap<>();
  private boolean training = true;
  private FlatParameters flat;

  /** The module's computation. */
  public abstract Tensor forward(Tensor input);

  // ---------------------------------------------------------------------------------------------
  // Registration

  private void checkName(String name) {
    if (name == null || name.isEmpty() || name.contains(".")) {
      throw new IllegalArgumentException("invalid name '" + name + "' (non-empty, no dots)");
    }
    if (parameters.containsKey(name) || buffers.containsKey(name) || modules.containsKey(name)) {
      throw new IllegalArgumentException("'" + name + "' is already registered");
    }
    if (flat != null) {
      throw new IllegalStateException("cannot register '" + name + "' after flatParameters()");
    }
  }

  /** Registers {@code data} as a trainable parameter (the module now owns it). */
  protected final Parameter registerParameter(String name, NDArray data) {
    checkName(name);
    Parameter p = new Parameter(MemoryScope.detach(data));
    parameters.put(name, p);
    return p;
  }

  /** Registers non-trainable state saved in the state dict (BatchNorm's running statistics). */
  protected final NDArray registerBuffer(String name, NDArray data) {
    checkName(name);
    buffers.put(name, MemoryScope.detach(data));
    return data;
  }

  /** Replaces a buffer's array (closing the old one), keeping its place in the order. */
  protected final void setBuffer(String name, NDArray data) {
    NDArray old = buffers.get(name);
    if (old == null) {
      throw new IllegalArgumentException("no buffer '" + name + "'");
    }
    buffers.put(name, MemoryScope.detach(data));
    old.close();
  }

  protected final NDArray buffer(String name) {
    return buffers.get(name);
  }

  /** Registers a submodule; its parameters appear under {@code name.}. */
  protected final <M extends Module> M registerModule(String name, M module) {
    checkName(name);
    modules.put(name, module);
    return module;
  }

  // ---------------------------------------------------------------------------------------------
  // Traversal

  /** Parameters by dotted name, in registration order (own first, then each submodule's). */
  public final Map<String, Parameter> namedParameters() {
    Map<String, Parameter> out = new LinkedHashMap<>();
    collectParameters("", out);
    return out;
  }

  private void collectParameters(String prefix, Map<String, Parameter> out) {
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      out.put(prefix + e.getKey(), e.getValue());
    }
    for (Map.Entry<String, Module> e : modules.entrySet()) {
      e.getValue().collectParameters(prefix + e.getKey() + ".", out);
    }
  }

  /** All parameters in a fixed order (the order optimizers and flat buffers use). */
  public final List<Parameter> parameters() {
    return new ArrayList<>(namedParameters().values());
  }

  /** Buffers by dotted name. */
  public final Map<String, NDArray> namedBuffers() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    collectBuffers("", out);
    return out;
  }

  private void collectBuffers(String prefix, Map<String, NDArray> out) {
    for (Map.Entry<String, NDArray> e : buffers.entrySet()) {
      out.put(prefix + e.getKey(), e.getValue());
    }
    for (Map.Entry<String, Module> e : modules.entrySet()) {
      e.getValue().collectBuffers(prefix + e.getKey() + ".", out);
    }
  }

  /** Direct submodules by name. */
  public final Map<String, Module> children() {
    return java.util.Collections.unmodifiableMap(modules);
  }

  // ---------------------------------------------------------------------------------------------
  // Modes and gradients

  /** Training mode (dropout active, batch norm uses batch statistics); the default. */
  public Module train() {
    setTraining(true);
    return this;
  }

  /** Evaluation mode. */
  public Module eval() {
    setTraining(false);
    return this;
  }

  private void setTraining(boolean value) {
    training = value;
    for (Module m : modules.values()) {
      m.setTraining(value);
    }
  }

  public boolean isTraining() {
    return training;
  }

  /** Zeroes every parameter's gradient in place (one fill when flattened). */
  public void zeroGrad() {
    if (flat != null) {
      flat.grads().fill(0);
      return;
    }
    for (Parameter p : parameters()) {
      p.zeroGrad(false);
    }
  }

  /** True once {@link #flatParameters()} has moved the parameters into flat buffers. */
  public boolean isFlattened() {
    return flat != null;
  }

  /** Number of parameter elements. */
  public long parameterCount() {
    long n = 0;
    for (Parameter p : parameters()) {
      n += p.data().numel();
    }
    return n;
  }

  /**
   * Moves every parameter into one flat value buffer and every gradient into one flat gradient
   * buffer (zeroed), on first call; later calls return the same buffers. Parameters must share one
   * dtype and device.
   */
  public FlatParameters flatParameters() {
    if (flat != null) {
      return flat;
    }
    List<Parameter> params = parameters();
    if (params.isEmpty()) {
      throw new IllegalStateException(getClass().getSimpleName() + " has no parameters");
    }
    DType dtype = params.get(0).dtype();
    long total = 0;
    List<Long> offsets = new ArrayList<>();
    List<Long> sizes = new ArrayList<>();
    for (Parameter p : params) {
      if (p.dtype() != dtype || !p.device().equals(params.get(0).device())) {
        throw new IllegalStateException(
            "flatParameters needs one dtype and device; found " + dtype + " and " + p.dtype());
      }
      offsets.add(total);
      sizes.add(p.data().numel());
      total += p.data().numel();
    }
    if (total > Integer.MAX_VALUE) {
      throw new IllegalStateException("more than 2^31 parameters do not fit one flat buffer");
    }
    NDArray values = MemoryScope.detach(NDArray.empty(dtype, params.get(0).device(), (int) total));
    NDArray grads = MemoryScope.detach(NDArray.zeros(dtype, params.get(0).device(), (int) total));
    for (int i = 0; i < params.size(); i++) {
      Parameter p = params.get(i);
      int[] shape = p.data().shape();
      int at = (int) (long) offsets.get(i);
      int n = (int) (long) sizes.get(i);
      try (NDArray vslice = values.narrow(0, at, n);
          NDArray gslice = grads.narrow(0, at, n)) {
        NDArray v = MemoryScope.detach(vslice.reshape(shape));
        v.copyFrom(p.data());
        p.rebind(v);
        NDArray g = MemoryScope.detach(gslice.reshape(shape));
        NDArray old = p.gradOrNull();
        if (old != null) {
          g.copyFrom(old);
        }
        p.bindGrad(g);
      }
    }
    flat = new FlatParameters(values, grads, List.copyOf(offsets), List.copyOf(sizes));
    return flat;
  }

  // ---------------------------------------------------------------------------------------------
  // State dict

  /**
   * Parameters and buffers by dotted name (views of the live arrays; the caller closes the map's
   * arrays, or passes it straight to {@link Safetensors#write}).
   */
  public Map<String, NDArray> stateDict() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    collectState("", out);
    return out;
  }

  /** PyTorch's state_dict order: a module's parameters, then its buffers, then each child's. */
  private void collectState(String prefix, Map<String, NDArray> out) {
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      out.put(prefix + e.getKey(), e.getValue().data().share());
    }
    for (Map.Entry<String, NDArray> e : buffers.entrySet()) {
      out.put(prefix + e.getKey(), e.getValue().share());
    }
    for (Map.Entry<String, Module> e : modules.entrySet()) {
      e.getValue().collectState(prefix + e.getKey() + ".", out);
    }
  }

  /**
   * Copies values into this module's parameters and buffers. With {@code strict}, the keys must
   * match exactly; shapes must always match; dtypes are converted.
   *
   * @throws IllegalArgumentException listing missing and unexpected keys, or naming the first key
   *     whose shape differs
   */
  public void loadStateDict(Map<String, NDArray> state, boolean strict) {
    Map<String, NDArray> targets = new LinkedHashMap<>();
    for (Map.Entry<String, Parameter> e : namedParameters().entrySet()) {
      targets.put(e.getKey(), e.getValue().data());
    }
    targets.putAll(namedBuffers());
    TreeSet<String> missing = new TreeSet<>(targets.keySet());
    missing.removeAll(state.keySet());
    TreeSet<String> unexpected = new TreeSet<>(state.keySet());
    unexpected.removeAll(targets.keySet());
    if (strict && (!missing.isEmpty() || !unexpected.isEmpty())) {
      throw new IllegalArgumentException(
          "state dict does not match "
              + getClass().getSimpleName()
              + ": missing keys "
              + missing
              + ", unexpected keys "
              + unexpected);
    }
    for (Map.Entry<String, NDArray> e : targets.entrySet()) {
      NDArray src = state.get(e.getKey());
      if (src != null && !Arrays.equals(src.shape(), e.getValue().shape())) {
        throw new IllegalArgumentException(
            "state dict key '"
                + e.getKey()
                + "' has shape "
                + Arrays.toString(src.shape())
                + ", the module expects "
                + Arrays.toString(e.getValue().shape()));
      }
    }
    for (Map.Entry<String, NDArray> e : targets.entrySet()) {
      NDArray src = state.get(e.getKey());
      if (src != null) {
        e.getValue().copyFrom(src);
      }
    }
  }

  /** Writes the state dict as safetensors (loadable by {@code safetensors.torch.load_file}). */
  public void save(Path file) throws IOException {
    Map<String, NDArray> state = stateDict();
    try {
      Safetensors.write(file, state, Map.of("format", "pt", "producer", "ember"));
    } finally {
      state.values().forEach(NDArray::close);
    }
  }

  /** Loads a safetensors state dict written by {@link #save} or by PyTorch (strict keys). */
  public void load(Path file) throws IOException {
    try (Safetensors.SafetensorsFile f = Safetensors.read(file)) {
      loadStateDict(f.tensors(), true);
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** A table of parameters with shapes and counts, and the total, like torchinfo's summary. */
  public String summary() {
    StringBuilder sb = new StringBuilder(getClass().getSimpleName()).append('\n');
    long total = 0;
    for (Map.Entry<String, Parameter> e : namedParameters().entrySet()) {
      NDArray d = e.getValue().data();
      total += d.numel();
      sb.append(
          String.format(
              Locale.ROOT,
              "  %-32s %-18s %,12d%n",
              e.getKey(),
              Arrays.toString(d.shape()),
              d.numel()));
    }
    sb.append(String.format(Locale.ROOT, "  total parameters: %,d", total));
    return sb.toString();
  }

  /** Closes every parameter, gradient, buffer and submodule. */
  @Override
  public void close() {
    for (Parameter p : parameters.values()) {
      p.close();
    }
    for (NDArray b : buffers.values()) {
      b.close();
    }
    for (Module m : modules.values()) {
      m.close();
    }
    if (flat != null) {
      flat.values().close();
      flat.grads().close();
      flat = null;
    }
  }
}
