package org.emberdl.optim;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.emberdl.autograd.NoGrad;
import org.emberdl.nn.FlatParameters;
import org.emberdl.nn.Gradients;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Updates all parameters of one {@link Module} from their gradients, as {@code torch.optim}'s
 * optimizers with a single parameter group. The module is flattened ({@link
 * Module#flatParameters()}) when the optimizer is built, and every update works on the flat value
 * and gradient buffers: one short sequence of array ops per step for the whole model, whatever its
 * number of parameters. Optimizer state (momentum, Adam's moments) is kept as flat buffers of the
 * same layout, created on the first step as in PyTorch.
 *
 * <pre>{@code
 * try (Adam opt = new Adam(model, 1e-3)) {
 *   for (Batch b : loader) {
 *     opt.zeroGrad();
 *     try (MemoryScope s = MemoryScope.open()) {
 *       loss.apply(model.forward(b.x()), b.y()).backward();
 *     }
 *     opt.step();
 *   }
 * }
 * }</pre>
 *
 * <p>Parameters with {@code requiresGrad() == false} (frozen) are left unchanged by a step, as if
 * they had not been given to the optimizer; their state still advances with a zero gradient.
 *
 * <p>The optimizer owns its state buffers: {@link #close()} frees them. The module stays owned by
 * its creator.
 */
public abstract class Optimizer implements AutoCloseable {
  private final Module module;
  private final FlatParameters flat;
  private final Map<String, NDArray> state = new LinkedHashMap<>();
  private double learningRate;
  private long stepCount;
  private boolean closed;

  /**
   * @param module whose parameters are optimized; it is flattened now if it was not already
   * @param learningRate the initial learning rate, >= 0
   */
  protected Optimizer(Module module, double learningRate) {
    checkLearningRate(learningRate);
    this.module = module;
    this.flat = module.flatParameters();
    this.learningRate = learningRate;
  }

  // ---------------------------------------------------------------------------------------------
  // Stepping

  /** One update with the gradients accumulated in the module's parameters by backward(). */
  public final void step() {
    try (Gradients g = Gradients.of(module)) {
      step(g);
    }
  }

  /**
   * One update with gradients from elsewhere, laid out as {@link Module#parameters()} (e.g. the
   * Spark driver's averaged, possibly clipped and noised flat update, wrapped with {@link
   * Gradients#fromFlat}). A flat gradient is used as is; per-parameter gradients are copied into a
   * temporary flat buffer first, a missing (null) one counting as zeros. Gradients of another dtype
   * are converted to the parameters' dtype. The gradients are not modified.
   *
   * @throws IllegalArgumentException when the gradients do not match the module's layout
   */
  public final void step(Gradients gradients) {
    checkOpen();
    try (NoGrad ignored = NoGrad.enter();
        MemoryScope scope = MemoryScope.open()) {
      NDArray grad = flatGradient(gradients);
      List<NDArray> frozen = saveFrozen();
      stepCount++;
      update(flat.values(), grad, stepCount);
      restoreFrozen(frozen);
    }
  }

  /**
   * Applies one update to {@code params} in place, with array ops on whole flat buffers only.
   *
   * @param params all parameter values, 1-D (the module's flat buffer)
   * @param grad all gradients, same shape and dtype; read only
   * @param step the number of this step, 1 for the first
   */
  protected abstract void update(NDArray params, NDArray grad, long step);

  /** Zeroes the module's gradients in place (one fill of the flat gradient buffer). */
  public void zeroGrad() {
    module.zeroGrad();
  }

  public double learningRate() {
    return learningRate;
  }

  /** Sets the learning rate used by the following steps (what LR schedulers call). */
  public void setLearningRate(double value) {
    checkLearningRate(value);
    this.learningRate = value;
  }

  /** Number of steps taken (restored by {@link #loadStateDict}). */
  public long stepCount() {
    return stepCount;
  }

  /** The optimized module. */
  public Module module() {
    return module;
  }

  // ---------------------------------------------------------------------------------------------
  // State for subclasses

  /** The named flat state buffer, or null before it was created. */
  protected final NDArray state(String name) {
    return state.get(name);
  }

  /**
   * The named flat state buffer, created as zeros shaped like the flat parameters on first use. The
   * optimizer owns it (no scope closes it).
   */
  protected final NDArray stateOrZeros(String name) {
    NDArray s = state.get(name);
    if (s == null) {
      NDArray values = flat.values();
      s = MemoryScope.detach(NDArray.zeros(values.dtype(), values.device(), values.shape()));
      state.put(name, s);
    }
    return s;
  }

  /** Names of every state buffer this optimizer may create (the keys its state dict may have). */
  protected abstract List<String> stateNames();

  /** Hyper-parameters other than the learning rate, by state-dict key, in a fixed order. */
  protected abstract Map<String, Double> hyperParameters();

  /**
   * Sets every hyper-parameter of {@link #hyperParameters()} from {@code values} (same keys), for
   * {@link #loadStateDict}; checks them all before assigning any.
   *
   * @throws IllegalArgumentException for an invalid value or combination, changing nothing
   */
  protected abstract void setHyperParameters(Map<String, Double> values);

  // ---------------------------------------------------------------------------------------------
  // State dict

  /**
   * Everything needed to resume exactly: {@code "step"} (0-d int64), {@code "lr"} and the other
   * hyper-parameters (0-d float64), and each state buffer that exists (a 1-D copy in the flat
   * parameter layout). The arrays are new copies owned by the caller (or the current scope).
   */
  public Map<String, NDArray> stateDict() {
    checkOpen();
    Map<String, NDArray> out = new LinkedHashMap<>();
    out.put("step", NDArray.scalar(stepCount, DType.INT64));
    out.put("lr", NDArray.scalar(learningRate, DType.FLOAT64));
    for (Map.Entry<String, Double> e : hyperParameters().entrySet()) {
      out.put(e.getKey(), NDArray.scalar(e.getValue(), DType.FLOAT64));
    }
    for (Map.Entry<String, NDArray> e : state.entrySet()) {
      out.put(e.getKey(), e.getValue().copy());
    }
    return out;
  }

  /**
   * Restores a state dict from {@link #stateDict()} of the same optimizer type on a module of the
   * same layout: the step count, the learning rate and hyper-parameters present in it, and the
   * state buffers. A buffer absent from the map is dropped (it is re-created on the next step, as
   * after construction). Nothing changes when the map is rejected.
   *
   * @throws IllegalArgumentException for a missing {@code "step"}, unknown keys, a buffer of the
   *     wrong size or an invalid hyper-parameter
   */
  public void loadStateDict(Map<String, NDArray> stateDict) {
    checkOpen();
    Map<String, Double> hyper = hyperParameters();
    TreeSet<String> unexpected = new TreeSet<>(stateDict.keySet());
    unexpected.remove("step");
    unexpected.remove("lr");
    unexpected.removeAll(hyper.keySet());
    unexpected.removeAll(stateNames());
    if (!unexpected.isEmpty()) {
      throw new IllegalArgumentException(
          getClass().getSimpleName()
              + " state dict has unexpected keys "
              + unexpected
              + " (a state dict of another optimizer?)");
    }
    NDArray stepArray = stateDict.get("step");
    if (stepArray == null || stepArray.numel() != 1) {
      throw new IllegalArgumentException("optimizer state dict needs a one-element 'step'");
    }
    long step = (long) stepArray.item();
    if (step < 0) {
      throw new IllegalArgumentException("optimizer state dict has a negative step " + step);
    }
    long numel = flat.values().numel();
    for (String name : stateNames()) {
      NDArray src = stateDict.get(name);
      if (src != null && (src.ndim() != 1 || src.numel() != numel)) {
        throw new IllegalArgumentException(
            "optimizer state '"
                + name
                + "' has shape "
                + Arrays.toString(src.shape())
                + ", this module needs ["
                + numel
                + "]");
      }
    }
    // validate every hyper-parameter before changing any
    Map<String, Double> newHyper = new LinkedHashMap<>(hyper);
    double lr = learningRate;
    if (stateDict.containsKey("lr")) {
      lr = stateDict.get("lr").item();
      checkLearningRate(lr);
    }
    for (String name : hyper.keySet()) {
      NDArray v = stateDict.get(name);
      if (v != null) {
        newHyper.put(name, v.item());
      }
    }
    setHyperParameters(newHyper);
    learningRate = lr;
    stepCount = step;
    for (String name : stateNames()) {
      NDArray src = stateDict.get(name);
      if (src == null) {
        NDArray old = state.remove(name);
        if (old != null) {
          old.close();
        }
      } else {
        stateOrZeros(name).copyFrom(src);
      }
    }
  }

  /** Frees the state buffers; the optimizer cannot be used afterwards. */
  @Override
  public void close() {
    closed = true;
    for (NDArray s : state.values()) {
      s.close();
    }
    state.clear();
  }

  // ---------------------------------------------------------------------------------------------

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(getClass().getSimpleName() + " was closed");
    }
  }

  private static void checkLearningRate(double lr) {
    if (!(lr >= 0) || Double.isInfinite(lr)) {
      throw new IllegalArgumentException("invalid learning rate " + lr + " (must be >= 0)");
    }
  }

  /** The gradient as one 1-D array of the parameters' dtype (a temporary of the step's scope). */
  private NDArray flatGradient(Gradients gradients) {
    NDArray values = flat.values();
    long numel = values.numel();
    NDArray given = gradients.flat();
    if (given != null) {
      if (given.ndim() != 1 || given.numel() != numel) {
        throw new IllegalArgumentException(
            "flat gradient has shape "
                + Arrays.toString(given.shape())
                + ", the module's parameters need ["
                + numel
                + "]");
      }
      return given.dtype() == values.dtype() ? given : given.cast(values.dtype());
    }
    List<Parameter> params = module.parameters();
    if (gradients.size() != params.size()) {
      throw new IllegalArgumentException(
          gradients.size() + " gradients for a module with " + params.size() + " parameters");
    }
    NDArray out = NDArray.zeros(values.dtype(), values.device(), (int) numel);
    for (int i = 0; i < params.size(); i++) {
      NDArray g = gradients.get(i);
      if (g == null) {
        continue;
      }
      int[] shape = params.get(i).shape();
      if (!Arrays.equals(g.shape(), shape)) {
        throw new IllegalArgumentException(
            "gradient "
                + i
                + " has shape "
                + Arrays.toString(g.shape())
                + ", its parameter "
                + Arrays.toString(shape));
      }
      // concatenation needs one copy per parameter; the update itself stays flat
      int at = (int) (long) flat.offsets().get(i);
      int n = (int) (long) flat.sizes().get(i);
      try (NDArray slot = out.narrow(0, at, n);
          NDArray shaped = slot.reshape(shape)) {
        shaped.copyFrom(g);
      }
    }
    return out;
  }

  /** Copies of the values of frozen parameters (null entries for trainable ones), or null. */
  private List<NDArray> saveFrozen() {
    List<Parameter> params = module.parameters();
    List<NDArray> saved = null;
    for (int i = 0; i < params.size(); i++) {
      if (!params.get(i).requiresGrad()) {
        if (saved == null) {
          saved = new ArrayList<>();
          for (int j = 0; j < params.size(); j++) {
            saved.add(null);
          }
        }
        saved.set(i, params.get(i).data().copy());
      }
    }
    return saved;
  }

  /** Puts frozen parameters back: a flat update touched every element. */
  private void restoreFrozen(List<NDArray> saved) {
    if (saved == null) {
      return;
    }
    List<Parameter> params = module.parameters();
    for (int i = 0; i < params.size(); i++) {
      if (saved.get(i) != null) {
        params.get(i).data().copyFrom(saved.get(i));
      }
    }
  }
}
