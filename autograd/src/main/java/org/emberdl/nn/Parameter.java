package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/**
 * A leaf tensor that a {@link Module} owns and an optimizer updates, as {@code torch.nn.Parameter}.
 * Its data and gradient may be views into the module's flat buffers ({@link
 * Module#flatParameters()}).
 */
public final class Parameter extends Tensor {
  public Parameter(NDArray data) {
    this(data, true);
  }

  public Parameter(NDArray data, boolean requiresGrad) {
    super(data, requiresGrad);
    if (!data.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException("parameters must be floating, got " + data.dtype());
    }
  }

  /** Rebinds the values (e.g. to a slice of a flat buffer); the old array is closed. */
  void rebind(NDArray newData) {
    NDArray old = data();
    setData(newData);
    old.close();
  }

  private boolean flatGrad;

  /** Installs the gradient array: a slice of the module's flat gradient buffer. */
  void bindGrad(NDArray newGrad) {
    setGrad(newGrad);
    flatGrad = true;
  }

  /**
   * Zeroes the gradient. A gradient that is a slice of the module's flat buffer is always zeroed in
   * place, never dropped: dropping it would silently detach this parameter from the buffer the
   * optimizer reads.
   */
  @Override
  public void zeroGrad(boolean setToNull) {
    super.zeroGrad(setToNull && !flatGrad);
  }
}
