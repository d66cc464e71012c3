package org.emberdl.onnx;

import java.util.Arrays;

/**
 * The sliding-window attributes of Conv and the pools (kernel_shape, strides, dilations, pads,
 * auto_pad, ceil_mode), and the padding they give for an input size.
 */
final class Window {
  final int[] kernel;
  private final long[] strides;
  private final long[] dilations;
  private final long[] pads;
  private final String autoPad;
  final boolean ceil;
  private final String owner;

  private Window(OnnxNode node) throws OnnxFormatException {
    Attributes a = node.attributes();
    owner = node.describe();
    long[] k = a.getInts("kernel_shape");
    kernel = k == null ? null : checkPositive(k, "kernel_shape");
    strides = a.getInts("strides");
    dilations = a.getInts("dilations");
    pads = a.getInts("pads");
    autoPad = a.getString("auto_pad", "NOTSET");
    ceil = a.getInt("ceil_mode", 0) != 0;
    if (strides != null) {
      checkPositive(strides, "strides");
    }
    if (dilations != null) {
      checkPositive(dilations, "dilations");
    }
    if (pads != null) {
      for (long p : pads) {
        if (p < 0 || p > Integer.MAX_VALUE) {
          throw new OnnxFormatException(
              owner + ": pads " + Arrays.toString(pads) + " must be >= 0");
        }
      }
    }
    if (!Arrays.asList("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER").contains(autoPad)) {
      throw new OnnxFormatException(owner + ": unknown auto_pad \"" + autoPad + "\"");
    }
  }

  static Window parse(OnnxNode node, boolean kernelRequired) throws OnnxFormatException {
    Window w = new Window(node);
    if (kernelRequired && w.kernel == null) {
      throw new OnnxFormatException(
          node.describe() + ": missing required attribute 'kernel_shape'");
    }
    return w;
  }

  private int[] checkPositive(long[] v, String name) throws OnnxFormatException {
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      if (v[i] < 1 || v[i] > Integer.MAX_VALUE) {
        throw new OnnxFormatException(
            owner + ": " + name + " " + Arrays.toString(v) + " must be positive");
      }
      out[i] = (int) v[i];
    }
    return out;
  }

  int[] strides(int spatial) {
    return expand(strides, spatial, "strides");
  }

  int[] dilations(int spatial) {
    return expand(dilations, spatial, "dilations");
  }

  private static int[] expand(long[] v, int spatial, String name) {
    int[] out = new int[spatial];
    Arrays.fill(out, 1);
    if (v != null) {
      if (v.length != spatial) {
        throw new IllegalArgumentException(
            name + " " + Arrays.toString(v) + " does not fit " + spatial + " spatial dims");
      }
      for (int i = 0; i < spatial; i++) {
        out[i] = (int) v[i];
      }
    }
    return out;
  }

  /**
   * Padding {begin, end} per spatial dim for an input of spatial size {@code in} and kernel {@code
   * k}. A pad larger than the (dilated) kernel only adds windows of padding, and would let a file
   * allocate what its bytes do not justify: it is refused.
   */
  int[][] padding(int[] in, int[] k) {
    int n = in.length;
    int[] stride = strides(n);
    int[] dil = dilations(n);
    int[] begin = new int[n];
    int[] end = new int[n];
    for (int i = 0; i < n; i++) {
      int ek = dil[i] * (k[i] - 1) + 1;
      switch (autoPad) {
        case "VALID" -> {}
        case "SAME_UPPER", "SAME_LOWER" -> {
          int out = (in[i] + stride[i] - 1) / stride[i];
          int total = Math.max(0, (out - 1) * stride[i] + ek - in[i]);
          int small = total / 2;
          begin[i] = autoPad.equals("SAME_UPPER") ? small : total - small;
          end[i] = total - begin[i];
        }
        default -> {
          if (pads != null) {
            if (pads.length != 2 * n) {
              throw new IllegalArgumentException(
                  "pads " + Arrays.toString(pads) + " does not fit " + n + " spatial dims");
            }
            begin[i] = (int) pads[i];
            end[i] = (int) pads[i + n];
          }
        }
      }
      if (begin[i] > ek || end[i] > ek) {
        throw new IllegalArgumentException(
            "pads "
                + Arrays.toString(begin)
                + "/"
                + Arrays.toString(end)
                + " exceed the kernel extent "
                + ek
                + " (Ember refuses pads larger than the kernel)");
      }
    }
    return new int[][] {begin, end};
  }
}
