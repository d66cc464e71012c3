package org.emberdl.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.emberdl.tensor.NDArray;

/**
 * One gradient per parameter, in {@link Module#parameters()} order: what an optimizer steps with.
 * It may come from {@code backward()} on this JVM ({@link #of(Module)}) or from elsewhere, such as
 * the driver's average of every partition's flat update ({@link #fromFlat}).
 *
 * <p>The arrays are views owned by their source; closing this object closes only the views.
 */
public final class Gradients implements AutoCloseable {
  private final List<NDArray> grads;
  private final NDArray flat;

  private Gradients(List<NDArray> grads, NDArray flat) {
    this.grads = Collections.unmodifiableList(grads);
    this.flat = flat;
  }

  /**
   * The gradients accumulated in {@code module}'s parameters; a parameter without one is null. When
   * the module is flattened, {@link #flat()} is its flat gradient buffer.
   */
  public static Gradients of(Module module) {
    if (module.isFlattened()) {
      return fromFlat(module, module.flatParameters().grads());
    }
    List<NDArray> list = new ArrayList<>();
    for (Parameter p : module.parameters()) {
      NDArray g = p.gradOrNull();
      list.add(g == null ? null : g.share());
    }
    return new Gradients(list, null);
  }

  /** Explicit per-parameter gradients (shared, not copied). */
  public static Gradients of(List<NDArray> perParameter) {
    List<NDArray> list = new ArrayList<>();
    for (NDArray g : perParameter) {
      list.add(g == null ? null : g.share());
    }
    return new Gradients(list, null);
  }

  /** Splits a flat 1-D gradient (laid out as {@link Module#flatParameters()}) per parameter. */
  public static Gradients fromFlat(Module module, NDArray flat) {
    List<Parameter> params = module.parameters();
    long total = 0;
    for (Parameter p : params) {
      total += p.data().numel();
    }
    if (flat.ndim() != 1 || flat.numel() != total) {
      throw new IllegalArgumentException(
          "a flat gradient of this module needs shape ["
              + total
              + "], got "
              + Arrays.toString(flat.shape()));
    }
    List<NDArray> list = new ArrayList<>();
    long at = 0;
    for (Parameter p : params) {
      int n = (int) p.data().numel();
      try (NDArray part = flat.narrow(0, (int) at, n)) {
        list.add(part.reshape(p.data().shape()));
      }
      at += n;
    }
    return new Gradients(list, flat.share());
  }

  /**
   * All gradients as one 1-D array in {@link Module#flatParameters()} layout, when these came from
   * a flat buffer ({@link #fromFlat}, or a flattened module); else null.
   */
  public NDArray flat() {
    return flat;
  }

  public int size() {
    return grads.size();
  }

  /** The gradient of parameter {@code i}, or null if it has none. */
  public NDArray get(int i) {
    return grads.get(i);
  }

  @Override
  public void close() {
    if (flat != null) {
      flat.close();
    }
    for (NDArray g : grads) {
      if (g != null) {
        g.close();
      }
    }
  }
}
