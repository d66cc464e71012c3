package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * Average pooling over {@code (kh, kw)} windows, as {@code torch.nn.AvgPool2d} with its defaults
 * ({@code count_include_pad=True}, {@code ceil_mode=False}): every window divides by {@code kh *
 * kw}, zero padding included.
 *
 * <p>Input {@code (N, C, H, W)} or {@code (C, H, W)}; output {@code (N, C, H', W')} with {@code H'
 * = (H + 2 ph - kh) / sh + 1}.
 */
public class AvgPool2d extends Pool2d {
  /** A square window with stride equal to the kernel, no padding. */
  public AvgPool2d(int kernel) {
    this(kernel, kernel, 0);
  }

  public AvgPool2d(int kernel, int stride) {
    this(kernel, stride, 0);
  }

  public AvgPool2d(int kernel, int stride, int padding) {
    this(new int[] {kernel}, new int[] {stride}, new int[] {padding});
  }

  /**
   * {@code {h, w}} pairs or single values; {@code stride} null means the kernel size.
   *
   * @throws IllegalArgumentException when padding exceeds half the kernel
   */
  public AvgPool2d(int[] kernel, int[] stride, int[] padding) {
    super(kernel, stride, padding);
  }

  @Override
  public Tensor forward(Tensor input) {
    return input.avgPool2d(kernel, stride, padding);
  }

  @Override
  public String toString() {
    return "AvgPool2d(" + geometry() + ")";
  }
}
