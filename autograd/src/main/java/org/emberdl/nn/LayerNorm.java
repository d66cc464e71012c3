package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.autograd.functions.LayerNormFunction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * Layer normalization over the trailing dims, as {@code torch.nn.LayerNorm}: {@code y = (x - mean)
 * / sqrt(var + eps) * weight + bias}, with mean and biased variance over the last {@code
 * normalizedShape.length} dims of each sample. The same in training and eval mode.
 *
 * <p>Parameters {@code weight} (ones) and {@code bias} (zeros), both shaped {@code
 * normalizedShape}, when elementwise affine. Input {@code (*, normalizedShape)}, output the same
 * shape.
 */
public class LayerNorm extends Module {
  private final int[] normalizedShape;
  private final double eps;
  private final Parameter weight;
  private final Parameter bias;

  /** eps 1e-5, elementwise affine with a bias, float32 (PyTorch's defaults). */
  public LayerNorm(int... normalizedShape) {
    this(normalizedShape, 1e-5, true, true, DType.FLOAT32);
  }

  /**
   * @param normalizedShape the trailing dims to normalize over
   * @param eps added to the variance before the square root
   * @param elementwiseAffine whether to learn a {@code weight} (and a {@code bias})
   * @param bias whether the affine part has a bias (ignored without elementwise affine)
   * @param dtype the parameters' dtype
   */
  public LayerNorm(
      int[] normalizedShape, double eps, boolean elementwiseAffine, boolean bias, DType dtype) {
    if (normalizedShape.length == 0) {
      throw new IllegalArgumentException("LayerNorm needs at least one normalized dim");
    }
    for (int s : normalizedShape) {
      if (s <= 0) {
        throw new IllegalArgumentException(
            "normalizedShape must be positive, got " + Arrays.toString(normalizedShape));
      }
    }
    this.normalizedShape = normalizedShape.clone();
    this.eps = eps;
    this.weight =
        elementwiseAffine
            ? registerParameter("weight", NDArray.ones(dtype, normalizedShape))
            : null;
    this.bias =
        elementwiseAffine && bias
            ? registerParameter("bias", NDArray.zeros(dtype, normalizedShape))
            : null;
  }

  @Override
  public Tensor forward(Tensor input) {
    PerExampleCapture capture = PerExampleCapture.current();
    if (capture != null) {
      return capture.layerNorm(this, input); // DP-SGD's per-example gradient norms
    }
    return layerNorm(input, normalizedShape, weight, bias, eps);
  }

  /**
   * Functional layer norm, as {@code torch.nn.functional.layer_norm}.
   *
   * @param input (*, normalizedShape)
   * @param weight shaped {@code normalizedShape}, or null
   * @param bias shaped {@code normalizedShape}, or null
   * @return input's shape
   * @throws IllegalArgumentException when input's trailing dims are not {@code normalizedShape}
   */
  public static Tensor layerNorm(
      Tensor input, int[] normalizedShape, Tensor weight, Tensor bias, double eps) {
    int nd = input.ndim();
    int k = normalizedShape.length;
    int[] shape = input.shape();
    if (nd < k || !Arrays.equals(Arrays.copyOfRange(shape, nd - k, nd), normalizedShape)) {
      throw new IllegalArgumentException(
          "LayerNorm over "
              + Arrays.toString(normalizedShape)
              + " expects input (*, "
              + Arrays.toString(normalizedShape).replaceAll("[\\[\\]]", "")
              + "), got "
              + Arrays.toString(shape));
    }
    int normalizedSize = 1;
    for (int s : normalizedShape) {
      normalizedSize *= s;
    }
    // one recorded op with fused kernels each way (LayerNormFunction), not nine elementwise ones
    return LayerNormFunction.apply(input, normalizedSize, weight, bias, eps);
  }

  /** The normalized trailing shape. */
  public int[] normalizedShape() {
    return normalizedShape.clone();
  }

  public double eps() {
    return eps;
  }

  /** The scale, or null without elementwise affine. */
  public Parameter weight() {
    return weight;
  }

  /** The shift, or null. */
  public Parameter bias() {
    return bias;
  }

  @Override
  public String toString() {
    StringBuilder shape = new StringBuilder("(");
    for (int i = 0; i < normalizedShape.length; i++) {
      shape.append(i > 0 ? ", " : "").append(normalizedShape[i]);
    }
    shape.append(normalizedShape.length == 1 ? ",)" : ")");
    return "LayerNorm("
        + shape
        + ", eps="
        + Repr.num(eps)
        + ", elementwise_affine="
        + Repr.bool(weight != null)
        + ")";
  }
}
