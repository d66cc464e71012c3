package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;

/**
 * A 2-D convolution, as {@code torch.nn.Conv2d} with zero padding: parameters {@code weight} {@code
 * (out, in / groups, kh, kw)} and {@code bias} {@code (out)}, initialized as PyTorch does from
 * {@code U(-1/sqrt(fan_in), 1/sqrt(fan_in))} with {@code fan_in = in / groups * kh * kw}.
 *
 * <p>Input {@code (N, in, H, W)} or unbatched {@code (in, H, W)}; output {@code (N, out, H', W')}
 * with {@code H' = (H + 2 ph - dh (kh - 1) - 1) / sh + 1} (and likewise W'). Under an open {@link
 * PerExampleCapture} a call records what per-example gradient norms need (same values and
 * gradients).
 */
public class Conv2d extends Module {
  private final int inChannels;
  private final int outChannels;
  private final int[] kernel;
  private final int[] stride;
  private final int[] padding;
  private final int[] dilation;
  private final int groups;
  private final Parameter weight;
  private final Parameter bias;

  /** A square {@code kernel}, stride 1, no padding, with a bias (float32). */
  public Conv2d(int inChannels, int outChannels, int kernel, Generator gen) {
    this(inChannels, outChannels, kernel, 1, 0, gen);
  }

  /** A square {@code kernel} with the given stride and padding, with a bias (float32). */
  public Conv2d(
      int inChannels, int outChannels, int kernel, int stride, int padding, Generator gen) {
    this(inChannels, outChannels, kernel, stride, padding, 1, 1, true, gen);
  }

  /** Square kernel, equal stride, padding and dilation in both dims (float32). */
  public Conv2d(
      int inChannels,
      int outChannels,
      int kernel,
      int stride,
      int padding,
      int dilation,
      int groups,
      boolean bias,
      Generator gen) {
    this(
        inChannels,
        outChannels,
        new int[] {kernel},
        new int[] {stride},
        new int[] {padding},
        new int[] {dilation},
        groups,
        bias,
        DType.FLOAT32,
        gen);
  }

  /**
   * The general form; {@code kernel}, {@code stride}, {@code padding} and {@code dilation} are
   * {@code {h, w}} pairs or one value for both dims.
   *
   * @throws IllegalArgumentException when a size is not positive (padding: negative), or {@code
   *     groups} does not divide both channel counts
   */
  public Conv2d(
      int inChannels,
      int outChannels,
      int[] kernel,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups,
      boolean bias,
      DType dtype,
      Generator gen) {
    if (inChannels <= 0 || outChannels <= 0 || groups <= 0) {
      throw new IllegalArgumentException(
          "Conv2d channels and groups must be positive, got in="
              + inChannels
              + ", out="
              + outChannels
              + ", groups="
              + groups);
    }
    if (inChannels % groups != 0 || outChannels % groups != 0) {
      throw new IllegalArgumentException(
          "in_channels ("
              + inChannels
              + ") and out_channels ("
              + outChannels
              + ") must be divisible by groups ("
              + groups
              + ")");
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernel = Repr.pair("kernel_size", kernel, false);
    this.stride = Repr.pair("stride", stride, false);
    this.padding = Repr.pair("padding", padding, true);
    this.dilation = Repr.pair("dilation", dilation, false);
    this.groups = groups;
    int[] shape = {outChannels, inChannels / groups, this.kernel[0], this.kernel[1]};
    this.weight = registerParameter("weight", Init.kaimingUniform(gen, dtype, shape, Math.sqrt(5)));
    this.bias =
        bias
            ? registerParameter(
                "bias", Init.biasUniform(gen, dtype, Init.fanIn(shape), outChannels))
            : null;
  }

  /** {@code (N, in, H, W) -> (N, out, H', W')}, or the same without N. */
  @Override
  public Tensor forward(Tensor input) {
    int nd = input.ndim();
    if ((nd != 3 && nd != 4) || input.shape(nd - 3) != inChannels) {
      throw new IllegalArgumentException(
          "Conv2d expects input (N, "
              + inChannels
              + ", H, W) or ("
              + inChannels
              + ", H, W), got "
              + Arrays.toString(input.shape()));
    }
    PerExampleCapture capture = PerExampleCapture.current();
    if (capture != null) {
      return capture.conv2d(this, input);
    }
    return Tensor.conv2d(input, weight, bias, stride, padding, dilation, groups);
  }

  public Parameter weight() {
    return weight;
  }

  /** The bias, or null for a layer without one. */
  public Parameter bias() {
    return bias;
  }

  public int inChannels() {
    return inChannels;
  }

  public int outChannels() {
    return outChannels;
  }

  /** {@code {kh, kw}}. */
  public int[] kernelSize() {
    return kernel.clone();
  }

  /** {@code {sh, sw}}. */
  public int[] stride() {
    return stride.clone();
  }

  /** {@code {ph, pw}}. */
  public int[] padding() {
    return padding.clone();
  }

  /** {@code {dh, dw}}. */
  public int[] dilation() {
    return dilation.clone();
  }

  public int groups() {
    return groups;
  }

  @Override
  public String toString() {
    StringBuilder sb =
        new StringBuilder("Conv2d(")
            .append(inChannels)
            .append(", ")
            .append(outChannels)
            .append(", kernel_size=")
            .append(Repr.pair(kernel))
            .append(", stride=")
            .append(Repr.pair(stride));
    if (padding[0] != 0 || padding[1] != 0) {
      sb.append(", padding=").append(Repr.pair(padding));
    }
    if (dilation[0] != 1 || dilation[1] != 1) {
      sb.append(", dilation=").append(Repr.pair(dilation));
    }
    if (groups != 1) {
      sb.append(", groups=").append(groups);
    }
    if (bias == null) {
      sb.append(", bias=False");
    }
    return sb.append(')').toString();
  }
}
