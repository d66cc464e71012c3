package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * Max pooling over {@code (kh, kw)} windows, as {@code torch.nn.MaxPool2d} (no dilation, floor
 * output size): padded positions never win, and the gradient goes to each window's maximum (the
 * first one at ties).
 *
 * <p>Input {@code (N, C, H, W)} or {@code (C, H, W)}; output {@code (N, C, H', W')} with {@code H'
 * = (H + 2 ph - kh) / sh + 1}.
 */
public class MaxPool2d extends Pool2d {
  /** A square window with stride equal to the kernel, no padding. */
  public MaxPool2d(int kernel) {
    this(kernel, kernel, 0);
  }

  public MaxPool2d(int kernel, int stride) {
    this(kernel, stride, 0);
  }

  public MaxPool2d(int kernel, int stride, int padding) {
    this(new int[] {kernel}, new int[] {stride}, new int[] {padding});
  }

  /**
   * {@code {h, w}} pairs or single values; {@code stride} null means the kernel size.
   *
   * @throws IllegalArgumentException when padding exceeds half the kernel
   */
  public MaxPool2d(int[] kernel, int[] stride, int[] padding) {
    super(kernel, stride, padding);
  }

  @Override
  public Tensor forward(Tensor input) {
    return input.maxPool2d(kernel, stride, padding);
  }

  @Override
  public String toString() {
    return "MaxPool2d(" + geometry() + ", dilation=1, ceil_mode=False)";
  }
}
