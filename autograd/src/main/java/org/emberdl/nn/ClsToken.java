package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;

/**
 * Prepends a learned classification token to a batch-first sequence, as ViT's {@code class_token}:
 * {@code (N, T, d) -> (N, T + 1, d)} with position 0 the token, the same for every sample.
 * Parameter {@code cls_token} {@code (1, 1, d)}, initialized to zeros (torchvision's ViT). {@link
 * ClsPool} takes position 0 back out after the encoder.
 */
public class ClsToken extends Module {
  private final int dim;
  private final Parameter token;

  /** A float32 token. */
  public ClsToken(int dim) {
    this(dim, DType.FLOAT32);
  }

  public ClsToken(int dim, DType dtype) {
    if (dim <= 0) {
      throw new IllegalArgumentException("ClsToken dim must be positive, got " + dim);
    }
    this.dim = dim;
    this.token = registerParameter("cls_token", Init.zeros(dtype, 1, 1, dim));
  }

  @Override
  public Tensor forward(Tensor input) {
    if (input.ndim() != 3 || input.shape(2) != dim) {
      throw new IllegalArgumentException(
          "ClsToken expects a batch-first (N, T, "
              + dim
              + ") input, got "
              + Arrays.toString(input.shape()));
    }
    PerExampleCapture capture = PerExampleCapture.current();
    try (Tensor t = token.expand(input.shape(0), 1, dim);
        Tensor tapped = capture == null ? null : capture.clsToken(this, t)) {
      return Tensor.cat(1, tapped == null ? t : tapped, input);
    }
  }

  public Parameter token() {
    return token;
  }

  @Override
  public String toString() {
    return "ClsToken(" + dim + ")";
  }
}
