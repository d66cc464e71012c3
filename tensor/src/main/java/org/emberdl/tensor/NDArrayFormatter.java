package org.emberdl.tensor;

import java.util.Locale;

/**
 * PyTorch-style printing: {@code tensor([[1.5000, 2.0000], [3.0000, 4.0000]], shape=[2, 2],
 * dtype=float32, device=cpu)}. Arrays over 1000 elements show the first and last three entries of
 * each dim around {@code ...}, as PyTorch does.
 */
final class NDArrayFormatter {
  private static final int THRESHOLD = 1000;
  private static final int EDGE = 3;

  private NDArrayFormatter() {}

  static String format(NDArray a) {
    boolean summarize = a.numel() > THRESHOLD;
    int[] shape = a.shape();
    double[] values;
    // Only the shown entries are read: the first and last EDGE of each long dim.
    try (NDArray host = a.to(Device.CPU);
        NDArray shown = summarize ? edges(host) : host.contiguous()) {
      values = shown.toDoubleArray();
    }
    String[] cells = new String[values.length];
    formatCells(a.dtype(), values, cells);
    int width = 0;
    for (String c : cells) {
      width = Math.max(width, c.length());
    }
    StringBuilder sb = new StringBuilder("tensor(");
    if (shape.length == 0) {
      sb.append(cells[0]);
    } else {
      appendDim(sb, shape, 0, 0, cells, width, summarize, "tensor(".length());
    }
    sb.append(", shape=").append(Shape.toString(shape));
    sb.append(", dtype=").append(a.dtype());
    sb.append(", device=").append(a.device()).append(')');
    return sb.toString();
  }

  /** The array with every dim longer than 2 * EDGE cut to its first and last EDGE entries. */
  private static NDArray edges(NDArray a) {
    NDArray cur = a.contiguous();
    for (int d = 0; d < a.ndim(); d++) {
      int n = cur.shape(d);
      if (n > 2 * EDGE) {
        try (NDArray old = cur;
            NDArray head = old.narrow(d, 0, EDGE);
            NDArray tail = old.narrow(d, n - EDGE, EDGE)) {
          cur = NDArray.cat(d, head, tail);
        }
      }
    }
    return cur;
  }

  private static void appendDim(
      StringBuilder sb,
      int[] shape,
      int dim,
      long base,
      String[] cells,
      int width,
      boolean summarize,
      int indent) {
    long stride = 1;
    for (int d = dim + 1; d < shape.length; d++) {
      stride *= shown(shape[d], summarize);
    }
    sb.append('[');
    int n = shape[dim];
    for (int i = 0; i < n; i++) {
      // position of original index i among the shown entries
      long at = summarize && n > 2 * EDGE && i >= EDGE ? i - (n - 2 * EDGE) : i;
      if (summarize && n > 2 * EDGE && i == EDGE) {
        sb.append("...");
        i = n - EDGE - 1;
        sb.append(separator(shape.length, dim, indent));
        continue;
      }
      if (dim == shape.length - 1) {
        String c = cells[(int) (base + at)];
        sb.append(" ".repeat(width - c.length())).append(c);
      } else {
        appendDim(sb, shape, dim + 1, base + at * stride, cells, width, summarize, indent + 1);
      }
      if (i < n - 1) {
        sb.append(separator(shape.length, dim, indent));
      }
    }
    sb.append(']');
  }

  private static int shown(int size, boolean summarize) {
    return summarize && size > 2 * EDGE ? 2 * EDGE : size;
  }

  private static String separator(int ndim, int dim, int indent) {
    if (dim == ndim - 1) {
      return ", ";
    }
    return "," + "\n".repeat(ndim - dim - 1) + " ".repeat(indent + 1);
  }

  private static void formatCells(DType dtype, double[] values, String[] cells) {
    if (dtype == DType.BOOL) {
      for (int i = 0; i < values.length; i++) {
        cells[i] = values[i] != 0 ? "True" : "False";
      }
      return;
    }
    if (!dtype.isFloatingPoint()) {
      for (int i = 0; i < values.length; i++) {
        cells[i] = Long.toString((long) values[i]);
      }
      return;
    }
    boolean integral = true;
    double maxAbs = 0;
    double minAbs = Double.POSITIVE_INFINITY;
    for (double v : values) {
      if (Double.isFinite(v)) {
        integral &= v == Math.rint(v);
        double a = Math.abs(v);
        maxAbs = Math.max(maxAbs, a);
        if (a > 0) {
          minAbs = Math.min(minAbs, a);
        }
      }
    }
    boolean scientific = maxAbs >= 1e8 || (minAbs < 1e-4) || (maxAbs / minAbs > 1000);
    if (minAbs == Double.POSITIVE_INFINITY) {
      scientific = maxAbs >= 1e8;
    }
    for (int i = 0; i < values.length; i++) {
      double v = values[i];
      if (Double.isNaN(v)) {
        cells[i] = "nan";
      } else if (Double.isInfinite(v)) {
        cells[i] = v > 0 ? "inf" : "-inf";
      } else if (integral && !scientific) {
        cells[i] = String.format(Locale.ROOT, "%.0f.", v);
      } else if (scientific) {
        cells[i] = String.format(Locale.ROOT, "%.4e", v);
      } else {
        cells[i] = String.format(Locale.ROOT, "%.4f", v);
      }
    }
  }
}
