package org.emberdl.onnx;

import static org.emberdl.onnx.Values.one;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/**
 * ONNX ops that move values without arithmetic: Shape, Reshape, Flatten, Transpose, Concat, Gather,
 * Unsqueeze, Squeeze, Slice. Views where Ember has one, so gradients pass through.
 */
final class ShapeOps {
  private ShapeOps() {}

  static void register(Map<String, OpCompiler> ops) {
    ops.put("Shape", ShapeOps::shape);
    ops.put("Reshape", ShapeOps::reshape);
    ops.put("Flatten", ShapeOps::flatten);
    ops.put("Transpose", ShapeOps::transpose);
    ops.put("Concat", ShapeOps::concat);
    ops.put("Gather", ShapeOps::gather);
    ops.put("Unsqueeze", ShapeOps::unsqueeze);
    ops.put("Squeeze", ShapeOps::squeeze);
    ops.put("Slice", ShapeOps::slice);
    ops.put("ConstantOfShape", ShapeOps::constantOfShape);
    ops.put("Expand", ShapeOps::expand);
    ops.put("Split", ShapeOps::split);
  }

  /** numpy broadcasting of the input against the given shape (a view; bounded like a fill). */
  private static Kernel expand(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    return (in, training) -> {
      Tensor x = in[0];
      long[] spec = Values.ints(in[1], "shape");
      int[] s = x.shape();
      int rank = Math.max(s.length, spec.length);
      int[] out = new int[rank];
      long n = 1;
      for (int i = 0; i < rank; i++) {
        int si = i - (rank - s.length);
        int pi = i - (rank - spec.length);
        long a = si >= 0 ? s[si] : 1;
        long b = pi >= 0 ? spec[pi] : 1;
        if (a != b && a != 1 && b != 1) {
          throw new IllegalArgumentException(
              "cannot broadcast " + Arrays.toString(s) + " to " + Arrays.toString(spec));
        }
        long d = a == 1 ? b : a;
        if (d < 0) {
          throw new IllegalArgumentException("shape " + Arrays.toString(spec) + " has dim " + d);
        }
        out[i] = (int) Math.min(d, Integer.MAX_VALUE);
        n = Math.min(n * Math.max(d, 1), MAX_FILL + 1);
      }
      long inNumel = Math.max(1, x.data().numel());
      if (n > Math.max(inNumel, MAX_FILL)) {
        throw new IllegalArgumentException(
            "expanding "
                + Arrays.toString(s)
                + " to "
                + Arrays.toString(spec)
                + " gives more than "
                + MAX_FILL
                + " elements (Ember's limit for Expand)");
      }
      return one(x.expand(out));
    };
  }

  /**
   * Sizes from the second input (opset 13 on) or the attribute (before); without them, equal parts:
   * one per output, or num_outputs (opset 18) with a smaller last part.
   */
  private static Kernel split(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    long axis = node.attributes().getInt("axis", 0);
    long[] attrSplit = cc.opset() < 13 ? node.attributes().getInts("split") : null;
    int outputs = node.outputs().size();
    return (in, training) -> {
      Tensor x = in[0];
      int a = Values.axis(axis, x.ndim(), "axis");
      int size = x.shape(a);
      long[] sizes = attrSplit;
      if (sizes == null && in.length > 1 && in[1] != null) {
        sizes = Values.ints(in[1], "split");
      }
      if (sizes == null) {
        int part = (size + outputs - 1) / outputs;
        sizes = new long[outputs];
        for (int i = 0; i < outputs; i++) {
          sizes[i] = Math.max(0, Math.min(part, size - (long) part * i));
        }
      }
      long total = 0;
      for (long p : sizes) {
        if (p < 0) {
          throw new IllegalArgumentException("split " + Arrays.toString(sizes) + " is negative");
        }
        total += p;
      }
      if (sizes.length != outputs || total != size) {
        throw new IllegalArgumentException(
            "split "
                + Arrays.toString(sizes)
                + " must give "
                + outputs
                + " parts summing to "
                + size);
      }
      Tensor[] out = new Tensor[outputs];
      int at = 0;
      for (int i = 0; i < outputs; i++) {
        out[i] = x.narrow(a, at, (int) sizes[i]);
        at += (int) sizes[i];
      }
      return out;
    };
  }

  /** The most elements ConstantOfShape may create: its size comes from the file, not its bytes. */
  static final long MAX_FILL = 1 << 24;

  private static Kernel constantOfShape(OnnxNode node, CompileContext cc)
      throws OnnxFormatException {
    NDArray value = node.attributes().getTensor("value");
    if (value != null && value.numel() != 1) {
      throw new OnnxFormatException(
          node.describe()
              + ": attribute 'value' must hold one element, got shape "
              + Arrays.toString(value.shape()));
    }
    double fill = value == null ? 0 : value.item();
    org.emberdl.tensor.DType dtype =
        value == null ? org.emberdl.tensor.DType.FLOAT32 : value.dtype();
    return (in, training) -> {
      int[] shape = Values.intList(in[0], "input");
      long n = 1;
      for (int d : shape) {
        if (d < 0) {
          throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has dim " + d);
        }
        n = Math.min(n * d, MAX_FILL + 1);
      }
      if (n > MAX_FILL) {
        throw new IllegalArgumentException(
            "shape "
                + Arrays.toString(shape)
                + " has more than "
                + MAX_FILL
                + " elements (Ember's limit for ConstantOfShape)");
      }
      return one(Tensor.of(NDArray.full(dtype, fill, shape)));
    };
  }

  private static Kernel shape(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    long start = node.attributes().getInt("start", 0);
    Long end = node.attributes().has("end") ? node.attributes().getInt("end") : null;
    return (in, training) -> {
      int[] s = in[0].shape();
      int r = s.length;
      int from = (int) clamp(start < 0 ? start + r : start, 0, r);
      int to = end == null ? r : (int) clamp(end < 0 ? end + r : end, 0, r);
      long[] dims = new long[Math.max(0, to - from)];
      for (int i = 0; i < dims.length; i++) {
        dims[i] = s[from + i];
      }
      return one(Tensor.of(NDArray.of(dims, dims.length)));
    };
  }

  private static long clamp(long v, long lo, long hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  private static Kernel reshape(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    boolean allowZero = node.attributes().getInt("allowzero", 0) != 0;
    return (in, training) -> {
      Tensor x = in[0];
      long[] spec = Values.ints(in[1], "shape");
      return one(x.reshape(resolveShape(x.shape(), spec, allowZero)));
    };
  }

  /** ONNX Reshape's rules: 0 copies the input's dim (unless allowzero), one -1 is inferred. */
  static int[] resolveShape(int[] inShape, long[] spec, boolean allowZero) {
    int[] out = new int[spec.length];
    int inferred = -1;
    long known = 1;
    for (int i = 0; i < spec.length; i++) {
      long d = spec[i];
      if (d == -1) {
        if (inferred >= 0) {
          throw new IllegalArgumentException(
              "shape " + Arrays.toString(spec) + " has more than one -1");
        }
        inferred = i;
        continue;
      }
      if (d == 0 && !allowZero) {
        if (i >= inShape.length) {
          throw new IllegalArgumentException(
              "shape "
                  + Arrays.toString(spec)
                  + " copies dim "
                  + i
                  + " (0) of an input of rank "
                  + inShape.length);
        }
        d = inShape[i];
      }
      if (d < 0 || d > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("shape " + Arrays.toString(spec) + " has dim " + d);
      }
      out[i] = (int) d;
      known *= d;
      if (known > Integer.MAX_VALUE) {
        known = Long.MAX_VALUE / 2; // larger than any input: fails the element count below
      }
    }
    long numel = 1;
    for (int s : inShape) {
      numel *= s;
    }
    if (inferred >= 0) {
      if (known == 0 || numel % known != 0) {
        throw new IllegalArgumentException(
            "cannot reshape " + Arrays.toString(inShape) + " to " + Arrays.toString(spec));
      }
      out[inferred] = (int) (numel / known);
    } else if (known != numel) {
      throw new IllegalArgumentException(
          "cannot reshape "
              + Arrays.toString(inShape)
              + " ("
              + numel
              + " elements) to "
              + Arrays.toString(spec));
    }
    return out;
  }

  private static Kernel flatten(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    long axis = node.attributes().getInt("axis", 1);
    return (in, training) -> {
      Tensor x = in[0];
      int r = x.ndim();
      if (axis < -r || axis > r) {
        throw new IllegalArgumentException("axis " + axis + " is out of range for rank " + r);
      }
      int a = (int) (axis < 0 ? axis + r : axis);
      int[] s = x.shape();
      return one(x.reshape(Values.prod(s, 0, a), Values.prod(s, a, r)));
    };
  }

  private static Kernel transpose(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    long[] perm = node.attributes().getInts("perm");
    return (in, training) -> {
      Tensor x = in[0];
      int r = x.ndim();
      int[] p = new int[r];
      if (perm == null) {
        for (int i = 0; i < r; i++) {
          p[i] = r - 1 - i;
        }
      } else {
        if (perm.length != r) {
          throw new IllegalArgumentException(
              "perm " + Arrays.toString(perm) + " does not fit an input of rank " + r);
        }
        boolean[] seen = new boolean[r];
        for (int i = 0; i < r; i++) {
          p[i] = Values.axis(perm[i], r, "perm entry");
          if (seen[p[i]]) {
            throw new IllegalArgumentException("perm " + Arrays.toString(perm) + " repeats a dim");
          }
          seen[p[i]] = true;
        }
      }
      return one(x.permute(p));
    };
  }

  private static Kernel concat(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    long axis = node.attributes().getInt("axis");
    return (in, training) -> {
      List<Tensor> parts = new ArrayList<>();
      for (Tensor t : in) {
        if (t != null) {
          parts.add(t);
        }
      }
      if (parts.isEmpty()) {
        throw new IllegalArgumentException("Concat needs at least one input");
      }
      int r = parts.get(0).ndim();
      int a = Values.axis(axis, r, "axis");
      for (Tensor t : parts) {
        if (t.ndim() != r || t.dtype() != parts.get(0).dtype()) {
          throw new IllegalArgumentException(
              "inputs must share rank and type, got "
                  + parts.get(0).dtype()
                  + Values.shape(parts.get(0))
                  + " and "
                  + t.dtype()
                  + Values.shape(t));
        }
      }
      if (parts.size() == 1) {
        return one(Values.share(parts.get(0)));
      }
      return one(Tensor.cat(a, parts.toArray(new Tensor[0])));
    };
  }

  /**
   * numpy take: data[..., indices, ...] along axis, indices of any shape, negatives from the end.
   */
  private static Kernel gather(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    long axis = node.attributes().getInt("axis", 0);
    return (in, training) -> {
      Tensor data = in[0];
      Tensor indices = in[1];
      int r = data.ndim();
      int a = Values.axis(axis, r, "axis");
      int size = data.shape(a);
      long[] idx = Values.ints(indices, "indices");
      for (int i = 0; i < idx.length; i++) {
        long v = idx[i] < 0 ? idx[i] + size : idx[i];
        if (v < 0 || v >= size) {
          throw new IllegalArgumentException(
              "index " + idx[i] + " is out of range for axis " + a + " of size " + size);
        }
        idx[i] = v;
      }
      if (indices.ndim() == 0) {
        return one(data.select(a, (int) idx[0]));
      }
      int[] ds = data.shape();
      int[] is = indices.shape();
      int[] out = new int[r - 1 + is.length];
      System.arraycopy(ds, 0, out, 0, a);
      System.arraycopy(is, 0, out, a, is.length);
      System.arraycopy(ds, a + 1, out, a + is.length, r - a - 1);
      try (NDArray index = NDArray.of(idx, idx.length);
          Tensor picked = data.indexSelect(a, index)) {
        return one(picked.reshape(out));
      }
    };
  }

  /** Axes from the attribute (before opset 13) or the second input (opset 13 on). */
  private static long[] axes(OnnxNode node, CompileContext cc, Tensor[] in)
      throws IllegalArgumentException {
    if (cc.opset() < 13) {
      try {
        return node.attributes().getInts("axes");
      } catch (OnnxFormatException e) {
        throw new IllegalArgumentException(e.getMessage(), e);
      }
    }
    return in.length > 1 && in[1] != null ? Values.ints(in[1], "axes") : null;
  }

  private static Kernel unsqueeze(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    if (cc.opset() < 13 && node.attributes().getInts("axes") == null) {
      throw new OnnxFormatException(node.describe() + ": missing required attribute 'axes'");
    }
    return (in, training) -> {
      long[] axes = axes(node, cc, in);
      if (axes == null) {
        throw new IllegalArgumentException("input axes is required");
      }
      Tensor x = in[0];
      int outRank = x.ndim() + axes.length;
      boolean[] inserted = new boolean[outRank];
      for (long axis : axes) {
        int a = Values.axis(axis, outRank, "axis");
        if (inserted[a]) {
          throw new IllegalArgumentException("axes " + Arrays.toString(axes) + " repeat " + a);
        }
        inserted[a] = true;
      }
      int[] out = new int[outRank];
      int[] s = x.shape();
      for (int i = 0, j = 0; i < outRank; i++) {
        out[i] = inserted[i] ? 1 : s[j++];
      }
      return one(x.reshape(out));
    };
  }

  private static Kernel squeeze(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    return (in, training) -> {
      long[] axes = axes(node, cc, in);
      Tensor x = in[0];
      int[] s = x.shape();
      boolean[] drop = new boolean[s.length];
      if (axes == null) {
        for (int i = 0; i < s.length; i++) {
          drop[i] = s[i] == 1;
        }
      } else {
        for (long axis : axes) {
          int a = Values.axis(axis, s.length, "axis");
          if (s[a] != 1) {
            throw new IllegalArgumentException(
                "cannot squeeze axis " + axis + " of size " + s[a] + " in " + Arrays.toString(s));
          }
          drop[a] = true;
        }
      }
      int[] out = new int[s.length];
      int n = 0;
      for (int i = 0; i < s.length; i++) {
        if (!drop[i]) {
          out[n++] = s[i];
        }
      }
      return one(x.reshape(Arrays.copyOf(out, n)));
    };
  }

  /**
   * Opset 10 on: starts, ends, axes, steps as inputs; before: attributes. Bounds are clamped as
   * ONNX says; a negative step walks backwards (an index select, as Ember's views step forwards).
   */
  private static Kernel slice(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    boolean attrs = cc.opset() < 10;
    long[] aStarts = attrs ? node.attributes().getInts("starts") : null;
    long[] aEnds = attrs ? node.attributes().getInts("ends") : null;
    long[] aAxes = attrs ? node.attributes().getInts("axes") : null;
    if (attrs && (aStarts == null || aEnds == null)) {
      throw new OnnxFormatException(
          node.describe() + ": attributes 'starts' and 'ends' are required");
    }
    return (in, training) -> {
      Tensor x = in[0];
      long[] starts = attrs ? aStarts : Values.ints(in[1], "starts");
      long[] ends = attrs ? aEnds : Values.ints(in[2], "ends");
      long[] axes =
          attrs ? aAxes : (in.length > 3 && in[3] != null ? Values.ints(in[3], "axes") : null);
      long[] steps = !attrs && in.length > 4 && in[4] != null ? Values.ints(in[4], "steps") : null;
      int n = starts.length;
      if (ends.length != n
          || (axes != null && axes.length != n)
          || (steps != null && steps.length != n)) {
        throw new IllegalArgumentException(
            "starts, ends, axes and steps must have one length, got "
                + n
                + ", "
                + ends.length
                + ", "
                + (axes == null ? "-" : axes.length)
                + ", "
                + (steps == null ? "-" : steps.length));
      }
      int r = x.ndim();
      Tensor cur = Values.share(x);
      boolean[] seen = new boolean[r];
      try {
        for (int i = 0; i < n; i++) {
          int a = axes == null ? i : Values.axis(axes[i], r, "axis");
          if (seen[a]) {
            throw new IllegalArgumentException("axis " + a + " is sliced twice");
          }
          seen[a] = true;
          long step = steps == null ? 1 : steps[i];
          Tensor next = sliceAxis(cur, a, starts[i], ends[i], step);
          cur.close();
          cur = next;
        }
        return one(cur);
      } catch (RuntimeException e) {
        cur.close();
        throw e;
      }
    };
  }

  private static Tensor sliceAxis(Tensor x, int axis, long start, long end, long step) {
    if (step == 0) {
      throw new IllegalArgumentException("step must not be 0");
    }
    long dim = x.shape(axis);
    long s = start < 0 ? start + dim : start;
    long e = end < 0 ? end + dim : end;
    if (step > 0) {
      s = clamp(s, 0, dim);
      e = clamp(e, 0, dim);
      if (e <= s) {
        return x.narrow(axis, (int) s, 0);
      }
      if (step == 1) {
        return x.narrow(axis, (int) s, (int) (e - s));
      }
      return x.slice(axis, (int) s, (int) e, (int) Math.min(step, Integer.MAX_VALUE));
    }
    s = clamp(s, -1, dim - 1);
    e = clamp(e, -1, dim - 1);
    int count = s > e ? (int) ((s - e - 1) / -step + 1) : 0;
    long[] idx = new long[count];
    for (int i = 0; i < count; i++) {
      idx[i] = s + i * step;
    }
    try (NDArray index = NDArray.of(idx, count)) {
      return x.indexSelect(axis, index);
    }
  }
}
