package org.emberdl.autograd;

import java.util.ArrayList;
import java.util.List;
import org.emberdl.tensor.NDArray;

/**
 * One recorded op: its inputs, what its backward rule needs, and the rule itself. Subclasses
 * compute the forward pass on {@link NDArray}s, save what backward needs with {@link #save}, and
 * implement {@link #backward} in NDArray ops, so the same rule runs on every device. Saved arrays
 * are released right after backward runs (PyTorch's {@code release_variables}).
 */
public abstract class Function {
  private final String name;
  private final Tensor[] inputs;
  private final List<NDArray> saved = new ArrayList<>(2);

  protected Function(String name, Tensor... inputs) {
    this.name = name;
    this.inputs = inputs;
  }

  /** True when an op on {@code inputs} must be recorded: grad mode on and an input needs grad. */
  public static boolean isNeeded(Tensor... inputs) {
    if (!GradMode.isEnabled()) {
      return false;
    }
    for (Tensor t : inputs) {
      if (t != null && t.requiresGrad()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Gradients with respect to each input, given the gradient of the output; an entry may be null
   * for an input that needs none. Each returned array has its input's shape and is owned by the
   * caller.
   */
  protected abstract NDArray[] backward(NDArray grad);

  /** Keeps a reference to {@code array} until backward has run. */
  protected final NDArray save(NDArray array) {
    NDArray shared = array.share();
    saved.add(shared);
    return shared;
  }

  /** True when input {@code i} needs a gradient (rules may skip work for the others). */
  protected final boolean needsGrad(int i) {
    return inputs[i] != null && inputs[i].requiresGrad();
  }

  /** The tensor produced by this op: {@code result} with this function as its creator. */
  public final Tensor output(NDArray result) {
    return new Tensor(result, this);
  }

  final Tensor[] inputs() {
    return inputs;
  }

  /** Frees what {@link #save} kept. */
  final void release() {
    for (NDArray a : saved) {
      a.close();
    }
    saved.clear();
  }

  public final String name() {
    return name;
  }

  @Override
  public String toString() {
    return name + "Backward";
  }
}
