package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.Convolution;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ValuesIndices;

/** conv2d and pooling; the backward kernels are the tensor engine's ({@link Convolution}). */
public final class ConvFunctions {
  private ConvFunctions() {}

  public static Tensor conv2d(
      Tensor input,
      Tensor weight,
      Tensor bias,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups) {
    NDArray r =
        Convolution.conv2d(
            input.data(),
            weight.data(),
            bias == null ? null : bias.data(),
            stride,
            padding,
            dilation,
            groups);
    Tensor[] inputs =
        bias == null ? new Tensor[] {input, weight} : new Tensor[] {input, weight, bias};
    if (!Function.isNeeded(inputs)) {
      return Tensor.of(r);
    }
    int[] inShape = input.data().shape();
    int[] wShape = weight.data().shape();
    return new Function("conv2d", inputs) {
      private final NDArray x = save(input.data());
      private final NDArray w = save(weight.data());

      @Override
      protected NDArray[] backward(NDArray grad) {
        NDArray[] out = new NDArray[inputs.length];
        if (needsGrad(0)) {
          out[0] =
              Convolution.conv2dBackwardInput(grad, w, inShape, stride, padding, dilation, groups);
        }
        if (needsGrad(1)) {
          out[1] =
              Convolution.conv2dBackwardWeight(grad, x, wShape, stride, padding, dilation, groups);
        }
        if (inputs.length == 3 && needsGrad(2)) {
          out[2] = Convolution.conv2dBackwardBias(grad);
        }
        return out;
      }
    }.output(r);
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
