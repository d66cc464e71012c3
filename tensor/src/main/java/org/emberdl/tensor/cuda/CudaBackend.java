package org.emberdl.tensor.cuda;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.global.cudart;
import org.emberdl.tensor.Backend;
import org.emberdl.tensor.Conv2dGeometry;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Pool2dGeometry;
import org.emberdl.tensor.memory.Storage;
import org.emberdl.tensor.ops.AdamStep;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.ReduceOp;
import org.emberdl.tensor.ops.UnaryOp;
import org.emberdl.tensor.random.Philox;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernels of one CUDA device: Ember's CUDA C kernels (compiled at build time, see {@link
 * KernelCompiler}) on one stream per engine, memory from a {@link CachingDeviceAllocator}, copies
 * through pinned staging, GEMM by cuBLAS where the machine has it and by Ember's tiled kernel
 * otherwise. Semantics are the CPU backend's (the reference): the same dtype families and
 * conversions, NaN rules, index errors, Philox bits and Adam operation order. Every op of the SPI
 * runs on the device except {@link #conv2dDirect}, which {@link #hasDirectConv2d} never offers
 * (convolutions run as im2col + GEMM).
 */
public final class CudaBackend implements Backend {
  private static final Logger LOG = LoggerFactory.getLogger(CudaBackend.class);

  /** {@code -Demberdl.cuda.maxBytes}: the most device bytes each engine reserves (default: all). */
  static final long MAX_BYTES = Long.getLong("emberdl.cuda.maxBytes", Long.MAX_VALUE);

  private final Device device;
  private final CudaContext context;
  private final CachingDeviceAllocator allocator;
  private final BufferAllocator arrow;
  private final KernelModules kernels;
  private final PinnedStaging staging;
  private final CublasGemm cublas;

  /** Off to time Ember's GEMM kernel where cuBLAS is present ({@code GpuCheck}'s benchmark). */
  volatile boolean useCublas = true;

  CudaBackend(CudaDevice d) {
    this.device = Device.cuda(d.index());
    this.context = new CudaContext(d);
    this.allocator = new CachingDeviceAllocator(new DriverMemory(context), MAX_BYTES);
    this.arrow =
        new RootAllocator(
            RootAllocator.configBuilder()
                .allocationManagerFactory(DeviceAllocationManager.factory(allocator))
                // the caching allocator rounds to its size classes; Arrow's default would first
                // round every request under 16 MiB up to a power of two
                .roundingPolicy(size -> size)
                .build());
    this.kernels = new KernelModules(context);
    this.staging = new PinnedStaging(context);
    this.cublas = CublasGemm.open(context);
    LOG.info(
        "{}: GEMM by {}",
        d,
        cublas != null
            ? "cuBLAS " + CudaLibraries.status().get(0).describe()
            : "Ember's tiled kernel (cuBLAS: " + CudaLibraries.status().get(0).describe() + ")");
  }

  /** Whether GEMM goes to cuBLAS on this device (found, and not switched off). */
  boolean hasCublas() {
    return cublas != null;
  }

  @Override
  public Device device() {
    return device;
  }

  /** The allocator's counters (bytes in use, cached, peak, device mallocs). */
  public AllocatorStats memoryStats() {
    return allocator.stats();
  }

  /** Gives every cached device block back to the driver. */
  public void emptyCache() {
    allocator.emptyCache();
  }

  /** Waits until every queued kernel and copy of this engine has finished. */
  public void synchronize() {
    context.synchronize("synchronize()");
  }

  @Override
  public Storage allocate(long bytes) {
    return new Storage(arrow.buffer(Math.max(bytes, 0)), device);
  }

  /** An optional array's device address at its offset, or 0 for none. */
  private static long addr(NDArray a) {
    return a == null ? 0 : KernelArgs.address(a);
  }

  /**
   * The device word {flag, value} where index kernels record an index out of bounds (they cannot
   * throw); zeroed when made and after each error.
   */
  private Storage errorWord;

  /**
   * Held from an index kernel's launch until its error word is read (and cleared): tasks on other
   * threads share the word.
   */
  private final Object indexLock = new Object();

  private synchronized Storage errorWord() {
    if (errorWord == null) {
      errorWord = allocate(16);
      clearErrorWord();
    }
    return errorWord;
  }

  private void clearErrorWord() {
    Storage zeros = Storage.allocateCpu(16);
    try {
      UNSAFE.setMemory(zeros.address(), 16, (byte) 0);
      copyFromHost(zeros.address(), errorWord, 0, 16);
    } finally {
      zeros.release();
    }
  }

  /** Throws the CPU backend's exception when the last index kernel saw an index out of bounds. */
  private void checkIndexError(int dim, int size) {
    Storage host = Storage.allocateCpu(16);
    long flag;
    long value;
    try {
      copyToHost(errorWord, 0, host.address(), 16);
      flag = UNSAFE.getLong(host.address());
      value = UNSAFE.getLong(host.address() + 8);
    } finally {
      host.release();
    }
    if (flag != 0) {
      clearErrorWord();
      throw new IndexOutOfBoundsException(
          "index " + value + " is out of bounds for dim " + dim + " with size " + size);
    }
  }

  private static final sun.misc.Unsafe UNSAFE = unsafe();

  private static sun.misc.Unsafe unsafe() {
    try {
      java.lang.reflect.Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      return (sun.misc.Unsafe) f.get(null);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private CUfunc_st fn(String module, String kernel) {
    return kernels.function(module, kernel);
  }

  /** The kernel suffix of a compute dtype: f32, f64, or i64 for int32/int64/bool. */
  private static String family(DType t) {
    return switch (t) {
      case FLOAT32 -> "f32";
      case FLOAT64 -> "f64";
      case INT32, INT64, BOOL -> "i64";
    };
  }

  private static DType familyType(String family) {
    return switch (family) {
      case "f32" -> DType.FLOAT32;
      case "f64" -> DType.FLOAT64;
      default -> DType.INT64;
    };
  }

  private static boolean dense(NDArray... arrays) {
    for (NDArray a : arrays) {
      if (!a.layout().isContiguous()) {
        return false;
      }
    }
    return true;
  }

  private static boolean allOf(DType t, NDArray... arrays) {
    for (NDArray a : arrays) {
      if (a.dtype() != t) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void copy(NDArray src, NDArray dst) {
    if (src.dtype() == dst.dtype() && dense(src, dst)) {
      long bytes = src.numel() * src.dtype().byteSize();
      long from = KernelArgs.address(src);
      long to = KernelArgs.address(dst);
      if (from != to && bytes > 0) {
        context.makeCurrent();
        Cuda.check(
            cudart.cuMemcpyDtoDAsync(to, from, bytes, context.stream()),
            "cuMemcpyDtoDAsync(" + bytes + " bytes on " + context.name() + ")");
      }
      return;
    }
    unary(UnaryOp.IDENTITY, src, dst);
  }

  @Override
  public void copyFromHost(long hostAddress, Storage dst, long dstByteOffset, long bytes) {
    staging.toDevice(hostAddress, dst, dstByteOffset, bytes);
  }

  @Override
  public void copyToHost(Storage src, long srcByteOffset, long hostAddress, long bytes) {
    staging.toHost(src, srcByteOffset, hostAddress, bytes);
  }

  @Override
  public void fill(NDArray dst, double value) {
    if (dst.numel() == 0) {
      return;
    }
    String fam = family(dst.dtype());
    new KernelArgs()
        .shape(dst.layout(), dense(dst))
        .operand(dst)
        .f64(value)
        .i64((long) value)
        .launch(context, fn("elementwise", "ember_fill_" + fam), "fill", dst.numel());
  }

  @Override
  public void unary(UnaryOp op, NDArray x, NDArray out) {
    if (out.numel() == 0) {
      return;
    }
    // as the CPU: truth tests compute in the input's family, everything else in the output's
    boolean truth = op == UnaryOp.LOGICAL_NOT || out.dtype() == DType.BOOL;
    String fam = family(truth ? x.dtype() : out.dtype());
    if (fam.equals("i64") && op.isRealValued()) {
      throw new IllegalStateException(op + " computes in a floating dtype, got " + out.dtype());
    }
    if (dense(x, out) && allOf(familyType(fam), x, out)) {
      new KernelArgs()
          .i64(op.ordinal())
          .i64(out.numel())
          .i64(KernelArgs.address(out))
          .i64(KernelArgs.address(x))
          .launch(context, fn("elementwise", "ember_dense_unary_" + fam), op.name(), out.numel());
      return;
    }
    new KernelArgs()
        .i64(op.ordinal())
        .shape(out.layout(), dense(x, out))
        .operand(out)
        .operand(x)
        .launch(context, fn("elementwise", "ember_unary_" + fam), op.name(), out.numel());
  }

  @Override
  public void binary(BinaryOp op, NDArray a, NDArray b, NDArray out) {
    if (out.numel() == 0) {
      return;
    }
    DType compute =
        switch (op.kind()) {
          case ARITHMETIC, REAL -> out.dtype();
          case COMPARISON, LOGICAL -> DType.promote(a.dtype(), b.dtype());
        };
    String fam = family(compute);
    if (dense(a, b, out) && allOf(familyType(fam), a, b, out)) {
      new KernelArgs()
          .i64(op.ordinal())
          .i64(out.numel())
          .i64(KernelArgs.address(out))
          .i64(KernelArgs.address(a))
          .i64(KernelArgs.address(b))
          .launch(context, fn("elementwise", "ember_dense_binary_" + fam), op.name(), out.numel());
      return;
    }
    new KernelArgs()
        .i64(op.ordinal())
        .shape(out.layout(), dense(a, b, out))
        .operand(out)
        .operand(a)
        .operand(b)
        .launch(context, fn("elementwise", "ember_binary_" + fam), op.name(), out.numel());
  }

  @Override
  public void binaryScalar(
      BinaryOp op, NDArray a, double scalar, boolean scalarFirst, DType computeType, NDArray out) {
    if (out.numel() == 0) {
      return;
    }
    String fam = family(computeType);
    new KernelArgs()
        .i64(op.ordinal())
        .i64(scalarFirst ? 1 : 0)
        .f64(scalar)
        .i64((long) scalar)
        .shape(out.layout(), dense(a, out))
        .operand(out)
        .operand(a)
        .launch(context, fn("elementwise", "ember_scalar_" + fam), op.name(), out.numel());
  }

  @Override
  public void where(NDArray cond, NDArray a, NDArray b, NDArray out) {
    if (out.numel() == 0) {
      return;
    }
    new KernelArgs()
        .shape(out.layout(), dense(cond, a, b, out))
        .operand(out)
        .operand(cond)
        .operand(a)
        .operand(b)
        .launch(
            context, fn("elementwise", "ember_where_" + family(out.dtype())), "where", out.numel());
  }

  @Override
  public void reduce(ReduceOp op, NDArray x, int reducedDims, NDArray out) {
    long rows = out.numel();
    if (rows == 0) {
      return;
    }
    long inner = x.numel() / rows;
    String fam = x.dtype().isFloatingPoint() ? "f64" : "i64";
    int blocks = (int) Math.min(rows, 65535);
    new KernelArgs()
        .i64(op.ordinal())
        .i64(rows)
        .i64(inner)
        .shape(x.layout(), dense(x))
        .operand(x)
        .shape(out.layout(), dense(out))
        .operand(out)
        .launch(context, fn("reduce", "ember_reduce_" + fam), op.name(), blocks, 1, 1, 256);
  }

  private static void checkFloating(String op, NDArray... arrays) {
    for (NDArray a : arrays) {
      if (!a.dtype().isFloatingPoint()) {
        throw new IllegalArgumentException(
            op + " on CUDA needs float32 or float64, got " + a.dtype());
      }
    }
  }

  @Override
  public void matmul(NDArray a, NDArray b, NDArray out) {
    checkFloating("matmul", a, b, out);
    Layout la = a.layout();
    Layout lb = b.layout();
    Layout lc = out.layout();
    int nd = lc.ndim();
    int m = lc.shape()[nd - 2];
    int n = lc.shape()[nd - 1];
    int k = la.shape()[la.ndim() - 1];
    if (k == 0) {
      fill(out, 0); // an empty sum
      return;
    }
    int bd = nd - 2;
    if (bd == 0) {
      gemm(out.dtype(), m, n, k, 1, a, 0, la, b, 0, lb, out, 0, lc);
      return;
    }
    // the last batch dim is the launch's batch; the ones before it are a host loop
    long outer = 1;
    for (int d = 0; d < bd - 1; d++) {
      outer *= lc.shape()[d];
    }
    int last = lc.shape()[bd - 1];
    for (long o = 0; o < outer; o++) {
      long offA = 0;
      long offB = 0;
      long offC = 0;
      long rem = o;
      for (int d = bd - 2; d >= 0; d--) {
        int idx = (int) (rem % lc.shape()[d]);
        rem /= lc.shape()[d];
        offA += idx * la.strides()[d];
        offB += idx * lb.strides()[d];
        offC += idx * lc.strides()[d];
      }
      gemm(out.dtype(), m, n, k, last, a, offA, la, b, offB, lb, out, offC, lc);
    }
  }

  /** One batched GEMM; operand strides from their layouts' last three dims. */
  private void gemm(
      DType t,
      int m,
      int n,
      int k,
      int batch,
      NDArray a,
      long offA,
      Layout la,
      NDArray b,
      long offB,
      Layout lb,
      NDArray c,
      long offC,
      Layout lc) {
    long es = t.byteSize();
    int na = la.ndim();
    int nb = lb.ndim();
    int nc = lc.ndim();
    long pa = KernelArgs.address(a) + offA * es;
    long pb = KernelArgs.address(b) + offB * es;
    long pc = KernelArgs.address(c) + offC * es;
    long aBatch = na > 2 ? la.strides()[na - 3] : 0;
    long bBatch = nb > 2 ? lb.strides()[nb - 3] : 0;
    long cBatch = nc > 2 ? lc.strides()[nc - 3] : 0;
    gemm(
        t,
        m,
        n,
        k,
        batch,
        pa,
        aBatch,
        la.strides()[na - 2],
        la.strides()[na - 1],
        pb,
        bBatch,
        lb.strides()[nb - 2],
        lb.strides()[nb - 1],
        pc,
        cBatch,
        lc.strides()[nc - 2],
        lc.strides()[nc - 1]);
  }

  private void gemm(
      DType t,
      int m,
      int n,
      int k,
      int batch,
      long pa,
      long aBatch,
      long aRow,
      long aCol,
      long pb,
      long bBatch,
      long bRow,
      long bCol,
      long pc,
      long cBatch,
      long cRow,
      long cCol) {
    if ((long) m * n * batch == 0) {
      return;
    }
    if (cublas != null
        && useCublas
        && cublas.gemm(
            t, m, n, k, batch, pa, aBatch, aRow, aCol, pb, bBatch, bRow, bCol, pc, cBatch, cRow,
            cCol)) {
      return;
    }
    // the float32 kernel's tiles are 128 x 128, the float64 one's 64 x 64 (gemm.cu)
    int tile = t == DType.FLOAT32 ? 128 : 64;
    int gx = (n + tile - 1) / tile;
    // gridDim.y and z stop at 65535: the kernels loop over the row tiles and batches beyond
    int gy = Math.min((m + tile - 1) / tile, 65535);
    int gz = Math.min(batch, 65535);
    new KernelArgs()
        .i64(m)
        .i64(n)
        .i64(k)
        .i64(batch)
        .i64(pa)
        .i64(aBatch)
        .i64(aRow)
        .i64(aCol)
        .i64(pb)
        .i64(bBatch)
        .i64(bRow)
        .i64(bCol)
        .i64(pc)
        .i64(cBatch)
        .i64(cRow)
        .i64(cCol)
        .launch(context, fn("gemm", "ember_gemm_" + family(t)), "gemm", gx, gy, gz, 256);
  }

  @Override
  public void linear(NDArray x, NDArray weight, NDArray bias, UnaryOp epilogue, NDArray out) {
    checkFloating("linear", x, weight, out);
    int m = x.shape()[0];
    int k = x.shape()[1];
    int n = weight.shape()[0];
    if (k == 0) {
      fill(out, 0);
      if (bias != null) {
        try (NDArray b = bias.expand(m, n)) {
          binary(BinaryOp.ADD, out, b, out);
        }
      }
      if (epilogue != null) {
        unary(epilogue, out, out);
      }
      return;
    }
    // out = x @ weight^T: weight^T's (kk, j) element is weight[j][kk], so its row step is 1
    gemm(
        out.dtype(),
        m,
        n,
        k,
        1,
        KernelArgs.address(x),
        0,
        x.layout().strides()[0],
        1,
        KernelArgs.address(weight),
        0,
        1,
        weight.layout().strides()[0],
        KernelArgs.address(out),
        0,
        n,
        1);
    if (bias != null) {
      try (NDArray b = bias.expand(m, n)) {
        binary(BinaryOp.ADD, out, b, out);
      }
    }
    if (epilogue != null) {
      unary(epilogue, out, out);
    }
  }

  @Override
  public void indexSelect(NDArray x, int dim, NDArray index, NDArray out) {
    if (!x.layout().isContiguous()) {
      try (NDArray dense = x.contiguous()) {
        indexSelect(dense, dim, index, out);
      }
      return;
    }
    if (!out.layout().isContiguous()) {
      try (NDArray dense = NDArray.empty(out.dtype(), out.device(), out.shape())) {
        indexSelect(x, dim, index, dense);
        copy(dense, out);
      }
      return;
    }
    int[] shape = x.shape();
    long outer = 1;
    for (int d = 0; d < dim; d++) {
      outer *= shape[d];
    }
    long inner = 1;
    for (int d = dim + 1; d < shape.length; d++) {
      inner *= shape[d];
    }
    long n = out.numel();
    if (n == 0) {
      return;
    }
    KernelArgs k =
        new KernelArgs()
            .i64(outer)
            .i64(shape[dim])
            .i64(index.numel())
            .i64(inner)
            .i64(x.dtype().byteSize())
            .i64(KernelArgs.address(x))
            .i64(KernelArgs.address(out))
            .operand1d(index)
            .i64(errorWord().address());
    synchronized (indexLock) {
      k.launch(context, fn("index", "ember_index_select"), "indexSelect", n);
      checkIndexError(dim, shape[dim]);
    }
  }

  @Override
  public void gather(NDArray x, int dim, NDArray index, NDArray out) {
    if (index.numel() == 0) {
      return;
    }
    synchronized (indexLock) {
      new KernelArgs()
          .shape(index.layout(), false)
          .operandWithoutDim(x, dim)
          .operand(index)
          .operand(out)
          .i64(x.layout().strides()[dim])
          .i64(x.shape()[dim])
          .i64(x.dtype().byteSize())
          .i64(errorWord().address())
          .launch(context, fn("index", "ember_gather"), "gather", index.numel());
      checkIndexError(dim, x.shape()[dim]);
    }
  }

  @Override
  public void scatterAdd(NDArray target, int dim, NDArray index, NDArray src) {
    if (index.numel() == 0) {
      return;
    }
    synchronized (indexLock) {
      new KernelArgs()
          .shape(index.layout(), false)
          .operandWithoutDim(target, dim)
          .operand(index)
          .operand(src)
          .i64(target.layout().strides()[dim])
          .i64(target.shape()[dim])
          .i64(errorWord().address())
          .launch(context, fn("index", "ember_scatter_add"), "scatterAdd", index.numel());
      checkIndexError(dim, target.shape()[dim]);
    }
  }

  @Override
  public void random(
      RandomKind kind, NDArray out, Philox generator, long offset, double a, double b) {
    if (!out.layout().isContiguous()) {
      throw new IllegalArgumentException("random fills need a contiguous output");
    }
    if (out.dtype() == DType.BOOL && kind != RandomKind.BERNOULLI) {
      throw new IllegalArgumentException("random " + kind + " cannot fill a bool array");
    }
    long n = out.numel();
    boolean f32 = out.dtype() == DType.FLOAT32;
    KernelArgs args =
        new KernelArgs()
            .i64(generator.seed())
            .i64(generator.stream())
            .i64(offset)
            .i64(n)
            .operand(out);
    String kernel;
    // Each branch first makes the Java generator check the arguments (a zero-length fill), so the
    // device refuses exactly what the CPU refuses, with its messages.
    switch (kind) {
      case UNIFORM -> {
        if (f32) {
          float lo = (float) a;
          float hi = (float) b;
          generator.uniform(offset + n, new float[0], 0, 0, lo, hi);
          args.f64(lo).f64(hi).f64(hi - lo).f64(Math.nextDown(hi));
          kernel = "ember_uniform_f32";
        } else {
          generator.uniform(offset + n, new double[0], 0, 0, a, b);
          args.f64(a).f64(b).f64(b - a).f64(Math.nextDown(b));
          kernel = "ember_uniform_f64";
        }
        args.i64(0).i64(0).i64(0);
      }
      case NORMAL -> {
        if (f32) {
          generator.normal(offset + n, new float[0], 0, 0, (float) a, (float) b);
          args.f64((float) a).f64((float) b);
          kernel = "ember_normal_f32";
        } else {
          generator.normal(offset + n, new double[0], 0, 0, a, b);
          args.f64(a).f64(b);
          kernel = "ember_normal_f64";
        }
        args.f64(0).f64(0).i64(0).i64(0).i64(0);
      }
      case INTEGERS -> {
        long lo = (long) a;
        long hi = (long) b;
        generator.integers(offset + n, new long[0], 0, 0, lo, hi);
        long s = hi - lo;
        args.f64(0).f64(0).f64(0).f64(0).i64(lo).i64(s).i64(Long.remainderUnsigned(-s, s));
        kernel = "ember_integers_i64";
      }
      case BERNOULLI -> {
        generator.bernoulli(offset + n, new float[0], 0, 0, a);
        args.f64(0).f64(0).f64(0).f64(0).i64((long) Math.ceil(a * 0x1.0p32)).i64(0).i64(0);
        kernel = "ember_bernoulli";
      }
      default -> throw new IllegalStateException(kind.toString());
    }
    if (n > 0) {
      args.launch(context, fn("random", kernel), kernel, n);
    }
  }

  private static KernelArgs conv(KernelArgs k, Conv2dGeometry g) {
    return k.i64(g.channels())
        .i64(g.height())
        .i64(g.width())
        .i64(g.kernelH())
        .i64(g.kernelW())
        .i64(g.strideH())
        .i64(g.strideW())
        .i64(g.padH())
        .i64(g.padW())
        .i64(g.dilationH())
        .i64(g.dilationW())
        .i64(g.outH())
        .i64(g.outW());
  }

  @Override
  public void im2col(NDArray input, Conv2dGeometry g, NDArray columns) {
    im2colBatch(input, g, 1, columns);
  }

  @Override
  public void im2colBatch(NDArray input, Conv2dGeometry g, int n, NDArray columns) {
    checkFloating("im2col", input, columns);
    conv(new KernelArgs(), g)
        .i64(n)
        .i64(KernelArgs.address(input))
        .i64(KernelArgs.address(columns))
        .launch(
            context,
            fn("conv", "ember_im2col_" + family(input.dtype())),
            "im2col",
            columns.numel());
  }

  @Override
  public void col2im(NDArray columns, Conv2dGeometry g, NDArray image) {
    checkFloating("col2im", columns, image);
    conv(new KernelArgs(), g)
        .i64(1)
        .i64(KernelArgs.address(image))
        .i64(KernelArgs.address(columns))
        .launch(
            context, fn("conv", "ember_col2im_" + family(image.dtype())), "col2im", image.numel());
  }

  private void pool(
      String kernel, Pool2dGeometry g, long planes, NDArray in, NDArray out, NDArray idx, long n) {
    new KernelArgs()
        .i64(g.height())
        .i64(g.width())
        .i64(g.kernelH())
        .i64(g.kernelW())
        .i64(g.strideH())
        .i64(g.strideW())
        .i64(g.padH())
        .i64(g.padW())
        .i64(g.outH())
        .i64(g.outW())
        .i64(planes)
        .i64(KernelArgs.address(in))
        .i64(KernelArgs.address(out))
        .i64(idx == null ? 0 : KernelArgs.address(idx))
        .launch(context, fn("conv", kernel + "_" + family(in.dtype())), kernel, n);
  }

  @Override
  public void maxPool2d(NDArray input, Pool2dGeometry g, NDArray out, NDArray indices) {
    checkFloating("maxPool2d", input, out);
    long planes = input.numel() / ((long) g.height() * g.width());
    pool("ember_max_pool", g, planes, input, out, indices, out.numel());
  }

  @Override
  public void maxPool2dBackward(
      NDArray gradOut, NDArray indices, Pool2dGeometry g, NDArray gradInput) {
    checkFloating("maxPool2dBackward", gradOut, gradInput);
    long planes = gradInput.numel() / ((long) g.height() * g.width());
    // one thread per input element, gathering (see conv.cu)
    pool("ember_max_pool_backward", g, planes, gradInput, gradOut, indices, gradInput.numel());
  }

  @Override
  public void avgPool2d(NDArray input, Pool2dGeometry g, NDArray out) {
    checkFloating("avgPool2d", input, out);
    long planes = input.numel() / ((long) g.height() * g.width());
    pool("ember_avg_pool", g, planes, input, out, null, out.numel());
  }

  @Override
  public void avgPool2dBackward(NDArray gradOut, Pool2dGeometry g, NDArray gradInput) {
    checkFloating("avgPool2dBackward", gradOut, gradInput);
    long planes = gradInput.numel() / ((long) g.height() * g.width());
    pool("ember_avg_pool_backward", g, planes, gradInput, gradOut, null, gradInput.numel());
  }

  @Override
  public void adamUpdate(
      NDArray param, NDArray grad, NDArray expAvg, NDArray expAvgSq, AdamStep s) {
    checkFloating("adamUpdate", param, grad, expAvg, expAvgSq);
    // CpuFusedKernels.adam's scalars, rounded to float for float32 state as it does
    boolean f32 = param.dtype() == DType.FLOAT32;
    double bc1 = 1 - Math.pow(s.beta1(), s.step());
    double bc2Sqrt = Math.sqrt(1 - Math.pow(s.beta2(), s.step()));
    double stepSize = s.lr() / bc1;
    double decay = s.decoupled() ? 1 - s.lr() * s.weightDecay() : 1;
    double l2 = s.decoupled() ? 0 : s.weightDecay();
    double oneMinusB1 = 1 - s.beta1();
    double oneMinusB2 = 1 - s.beta2();
    KernelArgs k =
        new KernelArgs()
            .i64(param.numel())
            .i64(KernelArgs.address(param))
            .i64(KernelArgs.address(grad))
            .i64(KernelArgs.address(expAvg))
            .i64(KernelArgs.address(expAvgSq));
    for (double v :
        new double[] {stepSize, bc2Sqrt, decay, l2, oneMinusB1, s.beta2(), oneMinusB2, s.eps()}) {
      k.f64(f32 ? (float) v : v);
    }
    if (param.numel() > 0) {
      k.launch(context, fn("adam", "ember_adam_" + family(param.dtype())), "adam", param.numel());
    }
  }

  @Override
  public void geluBackward(NDArray grad, NDArray x, NDArray out) {
    checkFloating("geluBackward", grad, x, out);
    if (x.numel() > 0) {
      new KernelArgs()
          .i64(x.numel())
          .i64(KernelArgs.address(grad))
          .i64(KernelArgs.address(x))
          .i64(KernelArgs.address(out))
          .launch(
              context,
              fn("rows", "ember_gelu_backward_" + family(x.dtype())),
              "geluBackward",
              x.numel());
    }
  }

  @Override
  public void layerNorm(
      NDArray x, NDArray weight, NDArray bias, double eps, NDArray y, NDArray mean, NDArray rstd) {
    checkFloating("layerNorm", x, y, mean, rstd);
    long rows = mean.numel();
    if (rows == 0) {
      return;
    }
    new KernelArgs()
        .i64(rows)
        .i64(x.numel() / rows)
        .f64(eps)
        .i64(KernelArgs.address(x))
        .i64(weight == null ? 0 : KernelArgs.address(weight))
        .i64(bias == null ? 0 : KernelArgs.address(bias))
        .i64(KernelArgs.address(y))
        .i64(KernelArgs.address(mean))
        .i64(KernelArgs.address(rstd))
        .launch(
            context,
            fn("rows", "ember_layer_norm_" + family(x.dtype())),
            "layerNorm",
            (int) Math.min(rows, 65535),
            1,
            1,
            256);
  }

  @Override
  public void layerNormBackward(
      NDArray grad,
      NDArray x,
      NDArray mean,
      NDArray rstd,
      NDArray weight,
      NDArray dx,
      NDArray dweight,
      NDArray dbias) {
    checkFloating("layerNormBackward", grad, x, dx);
    long rows = mean.numel();
    if (rows == 0) {
      return;
    }
    long cols = x.numel() / rows;
    String fam = family(x.dtype());
    new KernelArgs()
        .i64(rows)
        .i64(cols)
        .i64(KernelArgs.address(grad))
        .i64(KernelArgs.address(x))
        .i64(KernelArgs.address(mean))
        .i64(KernelArgs.address(rstd))
        .i64(weight == null ? 0 : KernelArgs.address(weight))
        .i64(KernelArgs.address(dx))
        .launch(
            context,
            fn("rows", "ember_layer_norm_backward_" + fam),
            "layerNormBackward",
            (int) Math.min(rows, 65535),
            1,
            1,
            256);
    if (dweight != null || dbias != null) {
      new KernelArgs()
          .i64(rows)
          .i64(cols)
          .i64(KernelArgs.address(grad))
          .i64(KernelArgs.address(x))
          .i64(KernelArgs.address(mean))
          .i64(KernelArgs.address(rstd))
          .i64(dweight == null ? 0 : KernelArgs.address(dweight))
          .i64(dbias == null ? 0 : KernelArgs.address(dbias))
          .launch(context, fn("rows", "ember_layer_norm_params_" + fam), "layerNormParams", cols);
    }
  }

  @Override
  public void softmaxRows(NDArray x, double scale, NDArray y, int cols) {
    checkFloating("softmaxRows", x, y);
    softmaxKernel("ember_softmax_", "softmax", x.numel(), cols, scale, y.dtype(), x, y);
  }

  @Override
  public void softmaxRowsBackward(NDArray grad, NDArray y, double scale, NDArray dx, int cols) {
    checkFloating("softmaxRowsBackward", grad, y, dx);
    softmaxKernel(
        "ember_softmax_backward_",
        "softmaxBackward",
        y.numel(),
        cols,
        scale,
        y.dtype(),
        grad,
        y,
        dx);
  }

  /**
   * Launches a row-wise softmax kernel, one block of 256 threads per row (rows past 65535 looped by
   * the kernel): its arguments are rows, cols, scale and the arrays' device addresses in order.
   */
  private void softmaxKernel(
      String kernel, String name, long numel, int cols, double scale, DType t, NDArray... arrays) {
    long rows = cols == 0 ? 0 : numel / cols;
    if (rows == 0) {
      return;
    }
    KernelArgs args = new KernelArgs().i64(rows).i64(cols).f64(scale);
    for (NDArray a : arrays) {
      args.i64(KernelArgs.address(a));
    }
    args.launch(
        context, fn("rows", kernel + family(t)), name, (int) Math.min(rows, 65535), 1, 1, 256);
  }

  @Override
  public void lstmCell(
      NDArray xGates,
      NDArray hGates,
      NDArray bIh,
      NDArray bHh,
      NDArray hPrev,
      NDArray cPrev,
      NDArray valid,
      NDArray gates,
      NDArray hNext,
      NDArray cNext,
      NDArray output) {
    cell(
        "ember_lstm_",
        "lstmCell",
        hPrev,
        xGates,
        hGates,
        bIh,
        bHh,
        hPrev,
        cPrev,
        valid,
        gates,
        hNext,
        cNext,
        output);
  }

  @Override
  public void lstmCellBackward(
      NDArray gates,
      NDArray cPrev,
      NDArray valid,
      NDArray gradOutput,
      NDArray gradHRec,
      NDArray gradHCarry,
      NDArray gradC,
      NDArray gradGates) {
    cell(
        "ember_lstm_backward_",
        "lstmCellBackward",
        cPrev,
        gates,
        cPrev,
        valid,
        gradOutput,
        gradHRec,
        gradHCarry,
        gradC,
        gradGates);
  }

  @Override
  public void gruCell(
      NDArray xGates,
      NDArray hGates,
      NDArray bIh,
      NDArray bHh,
      NDArray hPrev,
      NDArray valid,
      NDArray gates,
      NDArray hnb,
      NDArray hNext,
      NDArray output) {
    cell(
        "ember_gru_",
        "gruCell",
        hPrev,
        xGates,
        hGates,
        bIh,
        bHh,
        hPrev,
        valid,
        gates,
        hnb,
        hNext,
        output);
  }

  @Override
  public void gruCellBackward(
      NDArray gates,
      NDArray hnb,
      NDArray hPrev,
      NDArray valid,
      NDArray gradOutput,
      NDArray gradHRec,
      NDArray gradHCarry,
      NDArray gradXGates,
      NDArray gradHGates) {
    cell(
        "ember_gru_backward_",
        "gruCellBackward",
        hPrev,
        gates,
        hnb,
        hPrev,
        valid,
        gradOutput,
        gradHRec,
        gradHCarry,
        gradXGates,
        gradHGates);
  }

  /**
   * Launches a recurrent cell kernel over {@code b x h} elements ({@code shaped}'s two dimensions):
   * its arguments are b, h and the arrays' device addresses in order; the kernel's dtype family is
   * {@code shaped}'s.
   */
  private void cell(String kernel, String name, NDArray shaped, NDArray... arrays) {
    int b = shaped.shape()[0];
    int h = shaped.shape()[1];
    if ((long) b * h == 0) {
      return;
    }
    KernelArgs args = new KernelArgs().i64(b).i64(h);
    for (NDArray a : arrays) {
      args.i64(addr(a));
    }
    args.launch(context, fn("recurrent", kernel + family(shaped.dtype())), name, (long) b * h);
  }
}
