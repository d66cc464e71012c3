package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.Convolution;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ValuesIndices;

/** conv2d and pooling; the backward kernels are the tensor engine's ({@link Convolution}). */
public final class ConvFunctions {
  private ConvFunctions() {}

  /**
   * conv2d with its backward rule. When the weight needs a gradient the forward's im2col columns
   * are kept (freed with this node after backward, or when the enclosing scope closes) so that the
   * weight gradient multiplies them instead of building them again; all three gradients then come
   * from one {@link Convolution#conv2dBackward} call.
   */
  public static Tensor conv2d(
      Tensor input,
      Tensor weight,
      Tensor bias,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups) {
    Tensor[] inputs =
        bias == null ? new Tensor[] {input, weight} : new Tensor[] {input, weight, bias};
    NDArray b = bias == null ? null : bias.data();
    if (!Function.isNeeded(inputs)) {
      return Tensor.of(
          Convolution.conv2d(input.data(), weight.data(), b, stride, padding, dilation, groups));
    }
    Convolution.Conv2dResult r =
        weight.requiresGrad()
            ? Convolution.conv2dKeepingColumns(
                input.data(), weight.data(), b, stride, padding, dilation, groups)
            : new Convolution.Conv2dResult(
                Convolution.conv2d(
                    input.data(), weight.data(), b, stride, padding, dilation, groups),
                null);
    int[] inShape = input.data().shape();
    NDArray columns = r.columns();
    return new Function("conv2d", inputs) {
      // the input itself is needed only when there are no columns to reuse
      private final NDArray x = columns == null ? save(input.data()) : null;
      private final NDArray w = save(weight.data());
      private final NDArray cols = columns == null ? null : save(columns);

      {
        if (columns != null) {
          columns.close();
        }
      }

      @Override
      protected NDArray[] backward(NDArray grad) {
        boolean needBias = inputs.length == 3 && needsGrad(2);
        Convolution.Conv2dGrads g =
            Convolution.conv2dBackward(
                grad,
                x,
                cols,
                w,
                inShape,
                stride,
                padding,
                dilation,
                groups,
                needsGrad(0),
                needsGrad(1),
                needBias);
        return inputs.length == 3
            ? new NDArray[] {g.input(), g.weight(), g.bias()}
            : new NDArray[] {g.input(), g.weight()};
      }
    }.output(r.output());
  }

  public static Tensor maxPool2d(Tensor input, int[] kernel, int[] stride, int[] padding) {
    ValuesIndices vi = Convolution.maxPool2d(input.data(), kernel, stride, padding);
    if (!Function.isNeeded(input)) {
      vi.indices().close();
      return Tensor.of(vi.values());
    }
    int[] inShape = input.data().shape();
    NDArray indices = vi.indices();
    return new Function("maxPool2d", input) {
      private final NDArray idx = save(indices);

      {
        indices.close();
      }

      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {
          Convolution.maxPool2dBackward(grad, idx, inShape, kernel, stride, padding)
        };
      }
    }.output(vi.values());
  }

  /**
   * {@code maxPool2d(relu(x))} as one recorded op, computed as {@code relu(maxPool2d(x))}: the same
   * values, and the gradient {@code step(x) * maxPool2dBackward(grad)} with the pooling's indices
   * taken on x, which is what the two recorded ops give (wherever x's window maximum is not
   * positive, both send nothing back; elsewhere both pick the same element). No rectified copy of
   * the input is made or kept.
   */
  public static Tensor reluMaxPool2d(Tensor input, int[] kernel, int[] stride, int[] padding) {
    ValuesIndices vi = Convolution.reluMaxPool2d(input.data(), kernel, stride, padding);
    if (!Function.isNeeded(input)) {
      vi.indices().close();
      return Tensor.of(vi.values());
    }
    NDArray indices = vi.indices();
    return new Function("reluMaxPool2d", input) {
      private final NDArray x = save(input.data());
      private final NDArray idx = save(indices);

      {
        indices.close();
      }

      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {
          Convolution.reluMaxPool2dBackward(grad, idx, x, kernel, stride, padding)
        };
      }
    }.output(vi.values());
  }

  public static Tensor avgPool2d(Tensor input, int[] kernel, int[] stride, int[] padding) {
    NDArray r = Convolution.avgPool2d(input.data(), kernel, stride, padding);
    if (!Function.isNeeded(input)) {
      return Tensor.of(r);
    }
    int[] inShape = input.data().shape();
    return new Function("avgPool2d", input) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {
          Convolution.avgPool2dBackward(grad, inShape, kernel, stride, padding)
        };
      }
    }.output(r);
  }
}
