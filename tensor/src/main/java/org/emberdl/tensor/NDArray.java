package org.emberdl.tensor;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.emberdl.tensor.memory.HostMemory;
import org.emberdl.tensor.memory.Storage;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.ReduceOp;
import org.emberdl.tensor.ops.UnaryOp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An n-dimensional array on a {@link Device}: a strided view ({@link Layout}) of reference-counted
 * {@link Storage}. No gradients (see {@code org.emberdl.autograd.Tensor}).
 *
 * <p>Ops follow PyTorch's names and semantics: NumPy broadcasting, type promotion as documented on
 * {@link DType}, views that share memory ({@code reshape}, {@code transpose}, {@code slice}, ...),
 * and results in new arrays unless the name ends in {@code InPlace}.
 *
 * <p>Memory is off-heap and freed deterministically: {@link #close()} (idempotent) drops this
 * view's reference to its storage, and a {@link MemoryScope} closes every array created inside it.
 * A forgotten array is freed by a {@link Cleaner} that logs the leak. Using an array after close
 * throws {@link IllegalStateException} naming its shape, dtype and device.
 *
 * <p>Instances are not thread-safe for in-place ops; reading one array from several threads is
 * fine.
 */
public final class NDArray implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NDArray.class);
  private static final Cleaner CLEANER = Cleaner.create();
  private static final boolean TRACK = Boolean.getBoolean("emberdl.trackMemory");

  private final Handle handle;
  private final Cleaner.Cleanable cleanable;
  private final DType dtype;
  private final Layout layout;
  private final Device device;
  private MemoryScope owner;

  /** The reference to storage; the Cleaner's action, so it must not reference the NDArray. */
  private static final class Handle implements Runnable {
    final AtomicReference<Storage> storage;
    // What the array was, for messages; the string is built only when one is needed.
    final DType dtype;
    final int[] shape;
    final Device device;
    final Throwable allocatedAt;
    volatile Throwable closedAt;

    Handle(Storage storage, DType dtype, int[] shape, Device device) {
      this.storage = new AtomicReference<>(storage);
      this.dtype = dtype;
      this.shape = shape;
      this.device = device;
      this.allocatedAt = TRACK ? new Throwable("allocated here") : null;
    }

    String description() {
      return describe(dtype, shape, device);
    }

    /** Runs only when the array became unreachable without close(): a leak. */
    @Override
    public void run() {
      Storage s = storage.getAndSet(null);
      if (s != null) {
        LOG.warn(
            "NDArray {} was never closed; freed by the garbage collector. Close arrays or create"
                + " them in a MemoryScope.{}",
            description(),
            TRACK ? "" : " Run with -Demberdl.trackMemory=true to see where it was allocated.",
            allocatedAt);
        s.release();
      }
    }
  }

  /** A tracked array holding one reference to {@code storage}. */
  private NDArray(Storage storage, DType dtype, Layout layout, boolean tracked) {
    this.dtype = dtype;
    this.layout = layout;
    this.device = storage.device();
    this.handle = new Handle(storage, dtype, layout.shape(), device);
    if (tracked) {
      this.cleanable = CLEANER.register(this, handle);
      MemoryScope scope = MemoryScope.current();
      if (scope != null) {
        this.owner = scope;
        scope.register(this);
      }
    } else {
      this.cleanable = null;
    }
  }

  private static String describe(DType dtype, int[] shape, Device device) {
    return dtype + Shape.toString(shape) + " on " + device;
  }

  // ---------------------------------------------------------------------------------------------
  // Creation

  /**
   * Wraps {@code storage} with {@code layout}, adopting one reference to it (the caller retains
   * first if it keeps its own).
   *
   * @throws IllegalArgumentException when the layout reaches past the storage
   */
  public static NDArray wrap(Storage storage, DType dtype, Layout layout) {
    long needed = layout.extent() * dtype.byteSize();
    if (layout.numel() > 0 && (layout.offset() < 0 || needed > storage.byteSize())) {
      throw new IllegalArgumentException(
          "layout "
              + layout
              + " of "
              + dtype
              + " needs "
              + needed
              + " bytes but the storage has "
              + storage.byteSize());
    }
    return new NDArray(storage, dtype, layout, true);
  }

  /** An uninitialized contiguous array. */
  public static NDArray empty(DType dtype, Device device, int... shape) {
    int[] s = Shape.checked(shape);
    Storage storage = Backends.of(device).allocate(Shape.numel(s) * dtype.byteSize());
    return new NDArray(storage, dtype, Layout.contiguous(s), true);
  }

  public static NDArray empty(DType dtype, int... shape) {
    return empty(dtype, Device.CPU, shape);
  }

  public static NDArray zeros(DType dtype, Device device, int... shape) {
    return full(dtype, device, 0, shape);
  }

  public static NDArray zeros(DType dtype, int... shape) {
    return full(dtype, Device.CPU, 0, shape);
  }

  public static NDArray ones(DType dtype, int... shape) {
    return full(dtype, Device.CPU, 1, shape);
  }

  public static NDArray full(DType dtype, Device device, double value, int... shape) {
    NDArray a = empty(dtype, device, shape);
    a.backend().fill(a, value);
    return a;
  }

  public static NDArray full(DType dtype, double value, int... shape) {
    return full(dtype, Device.CPU, value, shape);
  }

  /** A 0-d array holding {@code value}. */
  public static NDArray scalar(double value, DType dtype) {
    return full(dtype, Device.CPU, value);
  }

  /** {@code [0, 1, ..., end - 1]} as int64. */
  public static NDArray arange(long end) {
    return arange(0, end, 1, DType.INT64);
  }

  /**
   * {@code start, start + step, ...} below {@code end} (above it for a negative step), as {@code
   * torch.arange}: {@code ceil((end - start) / step)} elements, each {@code start + i * step}.
   */
  public static NDArray arange(double start, double end, double step, DType dtype) {
    if (step == 0 || !Double.isFinite(start) || !Double.isFinite(end) || !Double.isFinite(step)) {
      throw new IllegalArgumentException(
          "arange needs finite bounds and a non-zero step: " + start + ", " + end + ", " + step);
    }
    long n = (long) Math.max(0, Math.ceil((end - start) / step));
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("arange would have " + n + " elements");
    }
    double[] values = new double[(int) n];
    for (int i = 0; i < n; i++) {
      values[i] = start + i * step;
    }
    try (NDArray d = of(values)) {
      return d.cast(dtype);
    }
  }

  /** {@code steps} evenly spaced values from {@code start} to {@code end} inclusive. */
  public static NDArray linspace(double start, double end, int steps, DType dtype) {
    if (steps < 0) {
      throw new IllegalArgumentException("linspace steps must be >= 0, got " + steps);
    }
    double[] values = new double[steps];
    double step = steps > 1 ? (end - start) / (steps - 1) : 0;
    // Fill from both ends, as PyTorch does, so the last value is exactly `end`.
    int half = steps / 2;
    for (int i = 0; i < steps; i++) {
      values[i] = i < half ? start + i * step : end - (steps - 1 - i) * step;
    }
    try (NDArray d = of(values)) {
      return d.cast(dtype);
    }
  }

  /** The n-by-n identity. */
  public static NDArray eye(int n, DType dtype) {
    NDArray a = zeros(dtype, n, n);
    try (NDArray diag = a.borrow(new Layout(new int[] {n}, new long[] {n + 1L}, 0))) {
      a.backend().fill(diag, 1);
    }
    return a;
  }

  /** A float32 array of {@code data} with {@code shape} (1-D when no shape is given). */
  public static NDArray of(float[] data, int... shape) {
    return fromHeap(data, data.length, DType.FLOAT32, shape);
  }

  /**
   * A float32 array of the first {@code count} values of {@code data} with {@code shape}: one copy
   * into off-heap memory from a reused, partly filled buffer (no {@code Arrays.copyOf} first).
   */
  public static NDArray ofFirst(float[] data, int count, int... shape) {
    if (count < 0 || count > data.length) {
      throw new IllegalArgumentException(
          "cannot take the first " + count + " of " + data.length + " values");
    }
    return fromHeap(data, count, DType.FLOAT32, shape);
  }

  public static NDArray of(double[] data, int... shape) {
    return fromHeap(data, data.length, DType.FLOAT64, shape);
  }

  public static NDArray of(int[] data, int... shape) {
    return fromHeap(data, data.length, DType.INT32, shape);
  }

  public static NDArray of(long[] data, int... shape) {
    return fromHeap(data, data.length, DType.INT64, shape);
  }

  public static NDArray of(boolean[] data, int... shape) {
    byte[] bytes = new byte[data.length];
    for (int i = 0; i < data.length; i++) {
      bytes[i] = data[i] ? (byte) 1 : (byte) 0;
    }
    return fromHeap(bytes, bytes.length, DType.BOOL, shape);
  }

  private static NDArray fromHeap(Object data, int length, DType dtype, int[] shape) {
    int[] s = shape.length == 0 ? new int[] {length} : Shape.checked(shape);
    if (Shape.numel(s) != length) {
      throw new IllegalArgumentException(
          "shape " + Shape.toString(s) + " needs " + Shape.numel(s) + " values, got " + length);
    }
    NDArray a = empty(dtype, Device.CPU, s);
    HostMemory.copyIn(data, 0, a.storage().address(), length);
    return a;
  }

  /** Uniform values in [low, high). */
  public static NDArray uniform(Generator gen, DType dtype, double low, double high, int... shape) {
    return random(gen, Backend.RandomKind.UNIFORM, dtype.toFloatingPoint(), low, high, shape);
  }

  /** Uniform values in [0, 1). */
  public static NDArray rand(Generator gen, DType dtype, int... shape) {
    return uniform(gen, dtype, 0, 1, shape);
  }

  /** Normal values with mean 0 and standard deviation 1. */
  public static NDArray randn(Generator gen, DType dtype, int... shape) {
    return normal(gen, dtype, 0, 1, shape);
  }

  public static NDArray normal(Generator gen, DType dtype, double mean, double std, int... shape) {
    if (!(std >= 0)) {
      throw new IllegalArgumentException("normal std must be >= 0, got " + std);
    }
    return random(gen, Backend.RandomKind.NORMAL, dtype.toFloatingPoint(), mean, std, shape);
  }

  /** Integers uniform in [low, high), int64. */
  public static NDArray randint(Generator gen, long low, long high, int... shape) {
    if (high <= low) {
      throw new IllegalArgumentException("randint needs low < high, got " + low + ", " + high);
    }
    return random(gen, Backend.RandomKind.INTEGERS, DType.INT64, low, high, shape);
  }

  /** 1 with probability {@code p}, else 0. */
  public static NDArray bernoulli(Generator gen, double p, DType dtype, int... shape) {
    if (!(p >= 0 && p <= 1)) {
      throw new IllegalArgumentException("bernoulli probability must be in [0, 1], got " + p);
    }
    return random(gen, Backend.RandomKind.BERNOULLI, dtype, p, 0, shape);
  }

  /** A random permutation of {@code 0 .. n-1}, int64. */
  public static NDArray randperm(Generator gen, int n) {
    int[] perm = gen.permutation(n);
    long[] values = new long[n];
    for (int i = 0; i < n; i++) {
      values[i] = perm[i];
    }
    return of(values);
  }

  private static NDArray random(
      Generator gen, Backend.RandomKind kind, DType dtype, double a, double b, int[] shape) {
    NDArray out = empty(dtype, Device.CPU, shape);
    return fillOrClose(
        out,
        () -> {
          long offset = gen.reserve(out.numel(), kind, dtype);
          out.backend().random(kind, out, gen.philox(), offset, a, b);
        });
  }

  /**
   * Runs {@code kernel}, which fills the freshly allocated {@code out}, and returns {@code out}; if
   * the kernel throws (bad index, an input used after close), {@code out} is closed first so a
   * failed op leaks nothing.
   */
  static NDArray fillOrClose(NDArray out, Runnable kernel) {
    try {
      kernel.run();
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Properties

  public DType dtype() {
    return dtype;
  }

  public Device device() {
    return device;
  }

  /** The sizes (a copy). */
  public int[] shape() {
    return layout.shape().clone();
  }

  /** The size of {@code dim} (negative counts from the end). */
  public int shape(int dim) {
    return layout.shape()[Shape.normalizeDim(dim, layout.ndim())];
  }

  public int ndim() {
    return layout.ndim();
  }

  public long numel() {
    return layout.numel();
  }

  public Layout layout() {
    return layout;
  }

  public boolean isContiguous() {
    return layout.isContiguous();
  }

  /** The storage; throws if this array was closed. */
  public Storage storage() {
    Storage s = handle.storage.get();
    if (s == null) {
      throw new IllegalStateException(
          "NDArray " + handle.description() + " was used after close()", handle.closedAt);
    }
    return s;
  }

  public boolean isClosed() {
    return handle.storage.get() == null;
  }

  MemoryScope owner() {
    return owner;
  }

  void setOwner(MemoryScope scope) {
    this.owner = scope;
  }

  Backend backend() {
    return Backends.of(device);
  }

  /** Drops this view's reference to its storage; idempotent. */
  @Override
  public void close() {
    Storage s = handle.storage.getAndSet(null);
    if (s != null) {
      if (TRACK) {
        handle.closedAt = new Throwable("closed here");
      }
      if (cleanable != null) {
        cleanable.clean(); // deregisters; run() sees a null storage and does nothing
        s.release();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Views

  /** A tracked view: retains the storage, joins the current scope. */
  private NDArray view(Layout l) {
    Storage s = storage();
    s.retain();
    return new NDArray(s, dtype, l, true);
  }

  /**
   * An untracked view for passing to a kernel within one op: no reference, no scope, no Cleaner. It
   * must not escape the op that made it; closing it does nothing to the storage.
   */
  NDArray borrow(Layout l) {
    return new NDArray(storage(), dtype, l, false);
  }

  /**
   * Another reference to the same elements (same layout, shared storage), closed independently: for
   * holding on to an array whose original owner may close it first.
   */
  public NDArray share() {
    return view(layout);
  }

  /** Same data, new shape; a view when the strides allow it, else a copy. One dim may be -1. */
  public NDArray reshape(int... shape) {
    int[] s = inferShape(shape);
    Layout v = layout.reshapeView(s);
    if (v != null) {
      return view(v);
    }
    try (NDArray c = contiguous()) {
      return c.view(Layout.contiguous(s));
    }
  }

  /** Like {@link #reshape} but never copies; throws when the strides do not allow a view. */
  public NDArray view(int... shape) {
    int[] s = inferShape(shape);
    Layout v = layout.reshapeView(s);
    if (v == null) {
      throw new IllegalArgumentException(
          "view "
              + Shape.toString(s)
              + " is not possible on strides "
              + Arrays.toString(layout.strides())
              + "; use reshape() to copy");
    }
    return view(v);
  }

  private int[] inferShape(int[] shape) {
    int[] s = shape.clone();
    int infer = -1;
    long known = 1;
    for (int i = 0; i < s.length; i++) {
      if (s[i] == -1) {
        if (infer >= 0) {
          throw new IllegalArgumentException("only one dim can be -1: " + Shape.toString(shape));
        }
        infer = i;
      } else if (s[i] < 0) {
        throw new IllegalArgumentException("invalid shape " + Shape.toString(shape));
      } else {
        known *= s[i];
      }
    }
    if (infer >= 0) {
      if (known == 0 || numel() % known != 0) {
        throw new IllegalArgumentException(
            "cannot reshape " + Shape.toString(layout.shape()) + " to " + Shape.toString(shape));
      }
      s[infer] = (int) (numel() / known);
    }
    if (Shape.numel(s) != numel()) {
      throw new IllegalArgumentException(
          "cannot reshape " + Shape.toString(layout.shape()) + " to " + Shape.toString(shape));
    }
    return s;
  }

  public NDArray transpose(int dim0, int dim1) {
    return view(layout.transpose(dim0, dim1));
  }

  /** The transpose of a 2-D array (a 0-d or 1-D array is returned as a view of itself). */
  public NDArray t() {
    if (ndim() < 2) {
      return view(layout);
    }
    if (ndim() > 2) {
      throw new IllegalArgumentException("t() expects <= 2 dims, got " + ndim());
    }
    return transpose(0, 1);
  }

  public NDArray permute(int... dims) {
    return view(layout.permute(dims));
  }

  /** Broadcasts to {@code shape} without copying (-1 keeps a dim's size). */
  public NDArray expand(int... shape) {
    int[] s = shape.clone();
    int lead = s.length - ndim();
    for (int i = 0; i < s.length; i++) {
      if (s[i] == -1 && i >= lead) {
        s[i] = layout.shape()[i - lead];
      }
    }
    return view(layout.expand(s));
  }

  /** {@code length} elements from {@code start} along {@code dim}. */
  public NDArray narrow(int dim, int start, int length) {
    int d = Shape.normalizeDim(dim, ndim());
    if (start < 0 || length < 0 || start + length > layout.shape()[d]) {
      throw new IndexOutOfBoundsException(
          "narrow(" + dim + ", " + start + ", " + length + ") on " + Shape.toString(shape()));
    }
    return view(layout.slice(d, start, start + length, 1));
  }

  /** Python's {@code x[start:end:step]} along {@code dim}; negative bounds count from the end. */
  public NDArray slice(int dim, int start, int end, int step) {
    return view(layout.slice(dim, start, end, step));
  }

  /** The sub-array at {@code index} along {@code dim}, which is removed. */
  public NDArray select(int dim, int index) {
    int d = Shape.normalizeDim(dim, ndim());
    int size = layout.shape()[d];
    int i = index < 0 ? index + size : index;
    if (i < 0 || i >= size) {
      throw new IndexOutOfBoundsException(
          "index " + index + " is out of bounds for dim " + dim + " with size " + size);
    }
    return view(layout.slice(d, i, i + 1, 1).squeeze(d));
  }

  public NDArray squeeze() {
    return view(layout.squeeze());
  }

  public NDArray squeeze(int dim) {
    return view(layout.squeeze(dim));
  }

  public NDArray unsqueeze(int dim) {
    return view(layout.unsqueeze(dim));
  }

  /** A 1-D view (or copy, if the strides require). */
  public NDArray flatten() {
    return reshape(-1);
  }

  /** Merges dims {@code startDim..endDim} (inclusive) into one. */
  public NDArray flatten(int startDim, int endDim) {
    if (ndim() == 0) {
      return reshape(1);
    }
    int s = Shape.normalizeDim(startDim, ndim());
    int e = Shape.normalizeDim(endDim, ndim());
    if (s > e) {
      throw new IllegalArgumentException("flatten: startDim " + s + " > endDim " + e);
    }
    int[] out = new int[ndim() - (e - s)];
    int k = 0;
    for (int d = 0; d < s; d++) {
      out[k++] = layout.shape()[d];
    }
    long merged = 1;
    for (int d = s; d <= e; d++) {
      merged *= layout.shape()[d];
    }
    out[k++] = (int) merged;
    for (int d = e + 1; d < ndim(); d++) {
      out[k++] = layout.shape()[d];
    }
    return reshape(out);
  }

  /** A contiguous array with the same values: a view if already contiguous, else a copy. */
  public NDArray contiguous() {
    if (isContiguous()) {
      return view(layout);
    }
    return copy();
  }

  /** A contiguous copy with its own storage. */
  public NDArray copy() {
    NDArray out = empty(dtype, device, layout.shape());
    return fillOrClose(out, () -> backend().copy(this, out));
  }

  /** A copy converted to {@code target} (a view of this array when the dtype is already it). */
  public NDArray cast(DType target) {
    if (target == dtype) {
      return view(layout);
    }
    NDArray out = empty(target, device, layout.shape());
    return fillOrClose(out, () -> backend().copy(this, out));
  }

  /** This array on {@code target} (a view when already there). */
  public NDArray to(Device target) {
    if (target.equals(device)) {
      return view(layout);
    }
    try (NDArray src = contiguous()) {
      NDArray out = empty(dtype, target, layout.shape());
      long bytes = numel() * dtype.byteSize();
      long srcOffset = src.layout.offset() * dtype.byteSize();
      if (device.type() == Device.Type.CPU) {
        out.backend().copyFromHost(src.storage().address() + srcOffset, out.storage(), 0, bytes);
      } else if (target.type() == Device.Type.CPU) {
        src.backend().copyToHost(src.storage(), srcOffset, out.storage().address(), bytes);
      } else {
        try (NDArray host = src.to(Device.CPU)) {
          out.close();
          return host.to(target);
        }
      }
      return out;
    }
  }

  /** Concatenates along {@code dim}; every other size must match. */
  public static NDArray cat(int dim, NDArray... arrays) {
    if (arrays.length == 0) {
      throw new IllegalArgumentException("cat needs at least one array");
    }
    NDArray first = arrays[0];
    int d = Shape.normalizeDim(dim, first.ndim());
    int[] shape = first.shape();
    DType dt = first.dtype;
    int total = 0;
    for (int i = 0; i < arrays.length; i++) {
      NDArray a = arrays[i];
      if (a.ndim() != first.ndim() || !a.device.equals(first.device)) {
        throw new IllegalArgumentException(
            "cat: array " + i + " is " + a.handle.description() + ", expected like " + first);
      }
      for (int k = 0; k < shape.length; k++) {
        if (k != d && a.layout.shape()[k] != shape[k]) {
          throw new IllegalArgumentException(
              "cat: array "
                  + i
                  + " has shape "
                  + Shape.toString(a.shape())
                  + ", expected "
                  + Shape.toString(shape)
                  + " except at dim "
                  + d);
        }
      }
      total += a.layout.shape()[d];
      dt = DType.promote(dt, a.dtype);
    }
    shape[d] = total;
    NDArray out = empty(dt, first.device, shape);
    return fillOrClose(
        out,
        () -> {
          int at = 0;
          for (NDArray a : arrays) {
            int len = a.layout.shape()[d];
            try (NDArray part = out.borrow(out.layout.slice(d, at, at + len, 1))) {
              out.backend().copy(a, part);
            }
            at += len;
          }
        });
  }

  /** Stacks equal-shaped arrays along a new dim. */
  public static NDArray stack(int dim, NDArray... arrays) {
    if (arrays.length == 0) {
      throw new IllegalArgumentException("stack needs at least one array");
    }
    int d = Shape.normalizeDim(dim, arrays[0].ndim() + 1);
    NDArray[] expanded = new NDArray[arrays.length];
    for (int i = 0; i < arrays.length; i++) {
      if (!Arrays.equals(arrays[i].layout.shape(), arrays[0].layout.shape())) {
        throw new IllegalArgumentException(
            "stack: array "
                + i
                + " has shape "
                + Shape.toString(arrays[i].shape())
                + ", expected "
                + Shape.toString(arrays[0].shape()));
      }
      expanded[i] = arrays[i].borrow(arrays[i].layout.unsqueeze(d));
    }
    return cat(d, expanded);
  }

  /** Views of {@code splitSize} elements along {@code dim} (the last may be shorter). */
  public List<NDArray> split(int splitSize, int dim) {
    if (splitSize <= 0) {
      throw new IllegalArgumentException("split size must be positive, got " + splitSize);
    }
    int d = Shape.normalizeDim(dim, ndim());
    int size = layout.shape()[d];
    List<NDArray> parts = new ArrayList<>();
    for (int start = 0; start < size; start += splitSize) {
      parts.add(narrow(d, start, Math.min(splitSize, size - start)));
    }
    return parts;
  }

  /** At most {@code chunks} views along {@code dim}, as {@code torch.chunk}. */
  public List<NDArray> chunk(int chunks, int dim) {
    if (chunks <= 0) {
      throw new IllegalArgumentException("chunks must be positive, got " + chunks);
    }
    int size = shape(dim);
    return split(Math.max(1, (size + chunks - 1) / chunks), dim);
  }

  // ---------------------------------------------------------------------------------------------
  // Elementwise

  private NDArray unary(UnaryOp op) {
    DType out =
        op == UnaryOp.LOGICAL_NOT
            ? DType.BOOL
            : op.isRealValued() ? dtype.toFloatingPoint() : dtype;
    NDArray result = empty(out, device, layout.shape());
    return fillOrClose(result, () -> backend().unary(op, this, result));
  }

  public NDArray neg() {
    return unary(UnaryOp.NEG);
  }

  public NDArray abs() {
    return unary(UnaryOp.ABS);
  }

  public NDArray sign() {
    return unary(UnaryOp.SIGN);
  }

  public NDArray exp() {
    return unary(UnaryOp.EXP);
  }

  public NDArray log() {
    return unary(UnaryOp.LOG);
  }

  public NDArray log1p() {
    return unary(UnaryOp.LOG1P);
  }

  public NDArray sqrt() {
    return unary(UnaryOp.SQRT);
  }

  public NDArray rsqrt() {
    return unary(UnaryOp.RSQRT);
  }

  public NDArray tanh() {
    return unary(UnaryOp.TANH);
  }

  public NDArray sigmoid() {
    return unary(UnaryOp.SIGMOID);
  }

  public NDArray relu() {
    return unary(UnaryOp.RELU);
  }

  /** Exact (erf) GELU, PyTorch's default. */
  public NDArray gelu() {
    return unary(UnaryOp.GELU);
  }

  /** Heaviside step: 1 where {@code x > 0}, else 0 (NaN stays NaN). */
  public NDArray step() {
    return unary(UnaryOp.STEP);
  }

  /** The error function. */
  public NDArray erf() {
    return unary(UnaryOp.ERF);
  }

  public NDArray logicalNot() {
    return unary(UnaryOp.LOGICAL_NOT);
  }

  /** {@code this * this}. */
  public NDArray square() {
    return binary(BinaryOp.MUL, this);
  }

  private void checkDevice(NDArray other) {
    if (!other.device.equals(device)) {
      throw new IllegalArgumentException(
          "arrays are on different devices: " + device + " and " + other.device);
    }
  }

  private static DType resultType(BinaryOp op, DType promoted) {
    return switch (op.kind()) {
      case ARITHMETIC -> promoted;
      case REAL -> promoted.toFloatingPoint();
      case COMPARISON, LOGICAL -> DType.BOOL;
    };
  }

  private NDArray binary(BinaryOp op, NDArray other) {
    checkDevice(other);
    int[] shape = Shape.broadcast(layout.shape(), other.layout.shape());
    NDArray out = empty(resultType(op, DType.promote(dtype, other.dtype)), device, shape);
    return fillOrClose(
        out,
        () -> {
          try (NDArray a = borrow(layout.expand(shape));
              NDArray b = other.borrow(other.layout.expand(shape))) {
            backend().binary(op, a, b, out);
          }
        });
  }

  /**
   * Result and compute dtypes of {@code this op scalar}: a floating array keeps its dtype; an
   * integer array keeps it for an integral scalar and becomes float32 otherwise.
   */
  private DType[] scalarTypes(BinaryOp op, double s) {
    boolean integral = s == Math.rint(s) && !Double.isInfinite(s);
    DType base =
        dtype.isFloatingPoint()
            ? dtype
            : integral ? (dtype == DType.BOOL ? DType.INT64 : dtype) : DType.FLOAT32;
    return switch (op.kind()) {
      case ARITHMETIC -> new DType[] {base, base};
      case REAL -> new DType[] {base.toFloatingPoint(), base.toFloatingPoint()};
      case COMPARISON ->
          new DType[] {
            DType.BOOL, dtype.isFloatingPoint() ? dtype : integral ? DType.INT64 : DType.FLOAT64
          };
      case LOGICAL -> new DType[] {DType.BOOL, dtype.isFloatingPoint() ? dtype : DType.FLOAT64};
    };
  }

  private NDArray binaryScalar(BinaryOp op, double s, boolean scalarFirst) {
    DType[] types = scalarTypes(op, s);
    NDArray out = empty(types[0], device, layout.shape());
    return fillOrClose(out, () -> backend().binaryScalar(op, this, s, scalarFirst, types[1], out));
  }

  public NDArray add(NDArray other) {
    return binary(BinaryOp.ADD, other);
  }

  public NDArray add(double s) {
    return binaryScalar(BinaryOp.ADD, s, false);
  }

  public NDArray sub(NDArray other) {
    return binary(BinaryOp.SUB, other);
  }

  public NDArray sub(double s) {
    return binaryScalar(BinaryOp.SUB, s, false);
  }

  /** {@code s - this}. */
  public NDArray rsub(double s) {
    return binaryScalar(BinaryOp.SUB, s, true);
  }

  public NDArray mul(NDArray other) {
    return binary(BinaryOp.MUL, other);
  }

  public NDArray mul(double s) {
    return binaryScalar(BinaryOp.MUL, s, false);
  }

  /** True division; integer inputs give float32. */
  public NDArray div(NDArray other) {
    return binary(BinaryOp.DIV, other);
  }

  public NDArray div(double s) {
    return binaryScalar(BinaryOp.DIV, s, false);
  }

  /** {@code s / this}. */
  public NDArray rdiv(double s) {
    return binaryScalar(BinaryOp.DIV, s, true);
  }

  public NDArray pow(NDArray exponent) {
    return binary(BinaryOp.POW, exponent);
  }

  public NDArray pow(double exponent) {
    return binaryScalar(BinaryOp.POW, exponent, false);
  }

  /** Elementwise max; NaN propagates. */
  public NDArray maximum(NDArray other) {
    return binary(BinaryOp.MAXIMUM, other);
  }

  public NDArray maximum(double s) {
    return binaryScalar(BinaryOp.MAXIMUM, s, false);
  }

  public NDArray minimum(NDArray other) {
    return binary(BinaryOp.MINIMUM, other);
  }

  public NDArray minimum(double s) {
    return binaryScalar(BinaryOp.MINIMUM, s, false);
  }

  /** Clamps into {@code [min, max]}; NaN stays NaN. */
  public NDArray clamp(double min, double max) {
    if (min > max) {
      throw new IllegalArgumentException("clamp: min " + min + " > max " + max);
    }
    try (NDArray lower = maximum(min)) {
      return lower.minimum(max);
    }
  }

  public NDArray eq(NDArray other) {
    return binary(BinaryOp.EQ, other);
  }

  public NDArray eq(double s) {
    return binaryScalar(BinaryOp.EQ, s, false);
  }

  public NDArray ne(NDArray other) {
    return binary(BinaryOp.NE, other);
  }

  public NDArray ne(double s) {
    return binaryScalar(BinaryOp.NE, s, false);
  }

  public NDArray lt(NDArray other) {
    return binary(BinaryOp.LT, other);
  }

  public NDArray lt(double s) {
    return binaryScalar(BinaryOp.LT, s, false);
  }

  public NDArray le(NDArray other) {
    return binary(BinaryOp.LE, other);
  }

  public NDArray le(double s) {
    return binaryScalar(BinaryOp.LE, s, false);
  }

  public NDArray gt(NDArray other) {
    return binary(BinaryOp.GT, other);
  }

  public NDArray gt(double s) {
    return binaryScalar(BinaryOp.GT, s, false);
  }

  public NDArray ge(NDArray other) {
    return binary(BinaryOp.GE, other);
  }

  public NDArray ge(double s) {
    return binaryScalar(BinaryOp.GE, s, false);
  }

  public NDArray logicalAnd(NDArray other) {
    return binary(BinaryOp.LOGICAL_AND, other);
  }

  public NDArray logicalOr(NDArray other) {
    return binary(BinaryOp.LOGICAL_OR, other);
  }

  /** {@code cond ? a : b} elementwise, broadcasting all three; dtype is a's and b's promotion. */
  public static NDArray where(NDArray cond, NDArray a, NDArray b) {
    if (cond.dtype != DType.BOOL) {
      throw new IllegalArgumentException("where needs a bool condition, got " + cond.dtype);
    }
    cond.checkDevice(a);
    a.checkDevice(b);
    int[] shape =
        Shape.broadcast(Shape.broadcast(cond.layout.shape(), a.layout.shape()), b.shape());
    NDArray out = empty(DType.promote(a.dtype, b.dtype), a.device, shape);
    return fillOrClose(
        out,
        () -> {
          try (NDArray c = cond.borrow(cond.layout.expand(shape));
              NDArray x = a.borrow(a.layout.expand(shape));
              NDArray y = b.borrow(b.layout.expand(shape))) {
            out.backend().where(c, x, y, out);
          }
        });
  }

  /** {@code value} where {@code mask} is true, else this array's element. */
  public NDArray maskedFill(NDArray mask, double value) {
    if (mask.dtype != DType.BOOL) {
      throw new IllegalArgumentException("maskedFill needs a bool mask, got " + mask.dtype);
    }
    try (NDArray v = full(dtype, device, value)) {
      return where(mask, v, this);
    }
  }

  // In place. The result is written into this array's own elements (it may be a view); the
  // other operand broadcasts to this shape and is converted to this dtype.

  private NDArray binaryInPlace(BinaryOp op, NDArray other) {
    checkDevice(other);
    if (op.kind() == BinaryOp.Kind.REAL && !dtype.isFloatingPoint()) {
      throw new IllegalArgumentException(op + " in place needs a floating array, got " + dtype);
    }
    try (NDArray b = other.borrow(other.layout.expand(layout.shape()))) {
      backend().binary(op, this, b, this);
    }
    return this;
  }

  private NDArray binaryScalarInPlace(BinaryOp op, double s) {
    backend().binaryScalar(op, this, s, false, dtype, this);
    return this;
  }

  public NDArray addInPlace(NDArray other) {
    return binaryInPlace(BinaryOp.ADD, other);
  }

  public NDArray addInPlace(double s) {
    return binaryScalarInPlace(BinaryOp.ADD, s);
  }

  /** {@code this += alpha * other} (the optimizers' update). */
  public NDArray addInPlace(NDArray other, double alpha) {
    try (NDArray scaled = other.mul(alpha)) {
      return addInPlace(scaled);
    }
  }

  public NDArray subInPlace(NDArray other) {
    return binaryInPlace(BinaryOp.SUB, other);
  }

  public NDArray mulInPlace(NDArray other) {
    return binaryInPlace(BinaryOp.MUL, other);
  }

  public NDArray mulInPlace(double s) {
    return binaryScalarInPlace(BinaryOp.MUL, s);
  }

  public NDArray divInPlace(NDArray other) {
    return binaryInPlace(BinaryOp.DIV, other);
  }

  public NDArray divInPlace(double s) {
    return binaryScalarInPlace(BinaryOp.DIV, s);
  }

  public NDArray clampInPlace(double min, double max) {
    binaryScalarInPlace(BinaryOp.MAXIMUM, min);
    return binaryScalarInPlace(BinaryOp.MINIMUM, max);
  }

  /** Sets every element to {@code value}. */
  public NDArray fill(double value) {
    backend().fill(this, value);
    return this;
  }

  /** Copies {@code src} (broadcast to this shape, converted to this dtype) into this array. */
  public NDArray copyFrom(NDArray src) {
    checkDevice(src);
    try (NDArray s = src.borrow(src.layout.expand(layout.shape()))) {
      backend().copy(s, this);
    }
    return this;
  }

  // ---------------------------------------------------------------------------------------------
  // Reductions, linear algebra, indexing: see Reductions and friends; thin entry points here.

  /** Sum of all elements (int types give int64). */
  public NDArray sum() {
    return Reductions.reduce(this, ReduceOp.SUM, new int[0], false);
  }

  public NDArray sum(int dim) {
    return Reductions.reduce(this, ReduceOp.SUM, new int[] {dim}, false);
  }

  public NDArray sum(int[] dims, boolean keepDim) {
    return Reductions.reduce(this, ReduceOp.SUM, dims, keepDim);
  }

  public NDArray prod(int[] dims, boolean keepDim) {
    return Reductions.reduce(this, ReduceOp.PROD, dims, keepDim);
  }

  public NDArray mean() {
    return Reductions.mean(this, new int[0], false);
  }

  public NDArray mean(int[] dims, boolean keepDim) {
    return Reductions.mean(this, dims, keepDim);
  }

  /** Variance with Bessel's correction ({@code correction = 1}), as {@code torch.var}. */
  public NDArray var(int[] dims, boolean keepDim) {
    return Reductions.var(this, dims, 1, keepDim);
  }

  public NDArray var(int[] dims, int correction, boolean keepDim) {
    return Reductions.var(this, dims, correction, keepDim);
  }

  public NDArray std(int[] dims, boolean keepDim) {
    try (NDArray v = var(dims, keepDim)) {
      return v.sqrt();
    }
  }

  public NDArray std(int[] dims, int correction, boolean keepDim) {
    try (NDArray v = var(dims, correction, keepDim)) {
      return v.sqrt();
    }
  }

  /** Maximum of all elements. */
  public NDArray max() {
    return Reductions.reduce(this, ReduceOp.MAX, new int[0], false);
  }

  /** Max over a set of dims (values only), as {@code torch.amax}. */
  public NDArray amax(int[] dims, boolean keepDim) {
    return Reductions.reduce(this, ReduceOp.MAX, dims, keepDim);
  }

  /** Max along {@code dim}: values and int64 indices of the first maximum. */
  public ValuesIndices max(int dim, boolean keepDim) {
    return Reductions.withIndices(this, ReduceOp.MAX, ReduceOp.ARGMAX, dim, keepDim);
  }

  public NDArray min() {
    return Reductions.reduce(this, ReduceOp.MIN, new int[0], false);
  }

  public NDArray amin(int[] dims, boolean keepDim) {
    return Reductions.reduce(this, ReduceOp.MIN, dims, keepDim);
  }

  public ValuesIndices min(int dim, boolean keepDim) {
    return Reductions.withIndices(this, ReduceOp.MIN, ReduceOp.ARGMIN, dim, keepDim);
  }

  /** Index of the first maximum of the flattened array (int64 0-d). */
  public NDArray argmax() {
    try (NDArray flat = reshape(-1)) {
      return Reductions.reduce(flat, ReduceOp.ARGMAX, new int[] {0}, false);
    }
  }

  public NDArray argmax(int dim, boolean keepDim) {
    return Reductions.reduce(this, ReduceOp.ARGMAX, new int[] {dim}, keepDim);
  }

  public NDArray argmin() {
    try (NDArray flat = reshape(-1)) {
      return Reductions.reduce(flat, ReduceOp.ARGMIN, new int[] {0}, false);
    }
  }

  public NDArray argmin(int dim, boolean keepDim) {
    return Reductions.reduce(this, ReduceOp.ARGMIN, new int[] {dim}, keepDim);
  }

  public NDArray all() {
    return Reductions.reduce(this, ReduceOp.ALL, new int[0], false);
  }

  public NDArray all(int[] dims, boolean keepDim) {
    return Reductions.reduce(this, ReduceOp.ALL, dims, keepDim);
  }

  public NDArray any() {
    return Reductions.reduce(this, ReduceOp.ANY, new int[0], false);
  }

  public NDArray any(int[] dims, boolean keepDim) {
    return Reductions.reduce(this, ReduceOp.ANY, dims, keepDim);
  }

  /** {@code log(sum(exp(x)))} over dims, computed stably. */
  public NDArray logsumexp(int[] dims, boolean keepDim) {
    return Reductions.logsumexp(this, dims, keepDim);
  }

  /** Softmax along {@code dim}, stable (the max is subtracted first). */
  public NDArray softmax(int dim) {
    return Reductions.softmax(this, dim, false);
  }

  public NDArray logSoftmax(int dim) {
    return Reductions.softmax(this, dim, true);
  }

  /** The L2 norm of all elements. */
  public NDArray norm() {
    return Reductions.norm(this, 2, new int[0], false);
  }

  /** The p-norm over dims ({@code p} may be {@code Double.POSITIVE_INFINITY}). */
  public NDArray norm(double p, int[] dims, boolean keepDim) {
    return Reductions.norm(this, p, dims, keepDim);
  }

  /** Matrix product with {@code torch.matmul}'s rules for 1-D, 2-D and batched operands. */
  public NDArray matmul(NDArray other) {
    checkDevice(other);
    return LinearAlgebra.matmul(this, other);
  }

  /** Rows (or slices along {@code dim}) picked by a 1-D int32/int64 {@code index}. */
  public NDArray indexSelect(int dim, NDArray index) {
    checkDevice(index);
    return Indexing.indexSelect(this, dim, index);
  }

  /** {@code out[i][j] = this[i][index[i][j]]} for dim 1 (any dim), as {@code torch.gather}. */
  public NDArray gather(int dim, NDArray index) {
    checkDevice(index);
    return Indexing.gather(this, dim, index);
  }

  /** A copy of this array with {@code src} added at {@code index} along {@code dim}. */
  public NDArray scatterAdd(int dim, NDArray index, NDArray src) {
    NDArray out = copy();
    return fillOrClose(out, () -> out.scatterAddInPlace(dim, index, src));
  }

  /** In place: {@code this[i][index[i][j]] += src[i][j]} for dim 1 (any dim). */
  public NDArray scatterAddInPlace(int dim, NDArray index, NDArray src) {
    checkDevice(index);
    checkDevice(src);
    Indexing.scatterAddInPlace(this, dim, index, src);
    return this;
  }

  /** One-hot encoding of an integer array: shape + [numClasses], in {@code dtype}. */
  public NDArray oneHot(int numClasses, DType dtype) {
    return Indexing.oneHot(this, numClasses, dtype);
  }

  // ---------------------------------------------------------------------------------------------
  // Reading values

  /** The single value of a one-element array. */
  public double item() {
    if (numel() != 1) {
      throw new IllegalStateException("item() needs exactly one element, " + handle.description());
    }
    return toDoubleArray()[0];
  }

  public float[] toFloatArray() {
    return (float[]) toHeap(DType.FLOAT32, new float[checkedLength()]);
  }

  /**
   * {@link #toFloatArray()} into {@code into} when it has exactly {@link #numel()} elements (a
   * buffer reused step after step, e.g. a training task's update), else into a new array.
   */
  public float[] toFloatArray(float[] into) {
    int n = checkedLength();
    return (float[]) toHeap(DType.FLOAT32, into != null && into.length == n ? into : new float[n]);
  }

  public double[] toDoubleArray() {
    return (double[]) toHeap(DType.FLOAT64, new double[checkedLength()]);
  }

  public int[] toIntArray() {
    return (int[]) toHeap(DType.INT32, new int[checkedLength()]);
  }

  public long[] toLongArray() {
    return (long[]) toHeap(DType.INT64, new long[checkedLength()]);
  }

  public boolean[] toBooleanArray() {
    byte[] bytes = (byte[]) toHeap(DType.BOOL, new byte[checkedLength()]);
    boolean[] out = new boolean[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      out[i] = bytes[i] != 0;
    }
    return out;
  }

  private int checkedLength() {
    if (numel() > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException(handle.description() + " is too large for a Java array");
    }
    return (int) numel();
  }

  private Object toHeap(DType type, Object array) {
    try (NDArray host = to(Device.CPU);
        NDArray typed = host.cast(type);
        NDArray dense = typed.contiguous()) {
      long address = dense.storage().address() + dense.layout.offset() * type.byteSize();
      HostMemory.copyOut(address, array, 0, (int) numel());
    }
    return array;
  }

  @Override
  public String toString() {
    if (isClosed()) {
      return "NDArray(closed, " + handle.description() + ")";
    }
    return NDArrayFormatter.format(this);
  }
}
