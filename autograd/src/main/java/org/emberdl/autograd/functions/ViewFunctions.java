package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * Views and shape ops. The forward pass is the NDArray view (no copy); the backward rule maps the
 * gradient back to the input's shape: a reshape for reshapes, the inverse permutation for
 * transposes, a sum for expand, and a scatter into zeros for slices.
 */
public final class ViewFunctions {
  private ViewFunctions() {}

  /** A function whose backward reshapes the gradient back to the input's shape. */
  private static Tensor reshaped(String name, Tensor x, NDArray r) {
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] shape = x.data().shape();
    return new Function(name, x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {grad.reshape(shape)};
      }
    }.output(r);
  }

  public static Tensor reshape(Tensor x, int... shape) {
    return reshaped("reshape", x, x.data().reshape(shape));
  }

  public static Tensor view(Tensor x, int... shape) {
    return reshaped("view", x, x.data().view(shape));
  }

  /** For squeeze/unsqueeze/flatten: {@code r} is a reshaped view of x. */
  public static Tensor reshapeLike(Tensor x, NDArray r) {
    return reshaped("reshape", x, r);
  }

  public static Tensor contiguous(Tensor x) {
    return reshaped("contiguous", x, x.data().contiguous());
  }

  public static Tensor transpose(Tensor x, int dim0, int dim1) {
    NDArray r = x.data().transpose(dim0, dim1);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    return new Function("transpose", x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {grad.transpose(dim0, dim1)};
      }
    }.output(r);
  }

  public static Tensor permute(Tensor x, int... dims) {
    NDArray r = x.data().permute(dims);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int nd = dims.length;
    int[] inverse = new int[nd];
    for (int i = 0; i < nd; i++) {
      inverse[dims[i] < 0 ? dims[i] + nd : dims[i]] = i;
    }
    return new Function("permute", x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {grad.permute(inverse)};
      }
    }.output(r);
  }

  public static Tensor expand(Tensor x, int... shape) {
    NDArray r = x.data().expand(shape);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    return new Function("expand", x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {Grads.sumTo(grad, inShape)};
      }
    }.output(r);
  }

  /** Slice (or narrow) along a dim; the gradient is scattered into zeros at the same places. */
  public static Tensor slice(Tensor x, int dim, int start, int end, int step, boolean narrow) {
    NDArray r =
        narrow ? x.data().narrow(dim, start, end - start) : x.data().slice(dim, start, end, step);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    return new Function(narrow ? "narrow" : "slice", x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        NDArray full = NDArray.zeros(grad.dtype(), grad.device(), inShape);
        try (NDArray part =
            narrow ? full.narrow(dim, start, end - start) : full.slice(dim, start, end, step)) {
          part.copyFrom(grad);
        }
        return new NDArray[] {full};
      }
    }.output(r);
  }

  public static Tensor select(Tensor x, int dim, int index) {
    NDArray r = x.data().select(dim, index);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    return new Function("select", x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        NDArray full = NDArray.zeros(grad.dtype(), grad.device(), inShape);
        try (NDArray part = full.select(dim, index)) {
          part.copyFrom(grad);
        }
        return new NDArray[] {full};
      }
    }.output(r);
  }

  public static Tensor cat(int dim, Tensor... tensors) {
    NDArray[] arrays = new NDArray[tensors.length];
    for (int i = 0; i < tensors.length; i++) {
      arrays[i] = tensors[i].data();
    }
    NDArray r = NDArray.cat(dim, arrays);
    if (!Function.isNeeded(tensors)) {
      return Tensor.of(r);
    }
    int d = dim < 0 ? dim + arrays[0].ndim() : dim;
    int[] sizes = new int[tensors.length];
    DType[] dtypes = new DType[tensors.length];
    for (int i = 0; i < tensors.length; i++) {
      sizes[i] = arrays[i].shape(d);
      dtypes[i] = arrays[i].dtype();
    }
    return new Function("cat", tensors) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        NDArray[] out = new NDArray[sizes.length];
        int at = 0;
        for (int i = 0; i < sizes.length; i++) {
          if (needsGrad(i)) {
            try (NDArray part = grad.narrow(d, at, sizes[i])) {
              out[i] = part.cast(dtypes[i]);
            }
          }
          at += sizes[i];
        }
        return out;
      }
    }.output(r);
  }

  public static Tensor cast(Tensor x, DType dtype) {
    NDArray r = x.data().cast(dtype);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    if (!dtype.isFloatingPoint()) {
      throw new IllegalArgumentException(
          "casting a tensor that requires grad to " + dtype + " would cut the graph; detach first");
    }
    DType from = x.dtype();
    return new Function("cast", x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {grad.cast(from)};
      }
    }.output(r);
  }
}
