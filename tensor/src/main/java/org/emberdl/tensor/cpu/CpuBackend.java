package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.Backend;
import org.emberdl.tensor.Conv2dGeometry;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Pool2dGeometry;
import org.emberdl.tensor.memory.Storage;
import org.emberdl.tensor.ops.AdamStep;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.ReduceOp;
import org.emberdl.tensor.ops.UnaryOp;
import org.emberdl.tensor.random.Philox;

/** The host backend: off-heap memory from Arrow, Java kernels, OpenBLAS GEMM. */
public final class CpuBackend implements Backend {
  public static final CpuBackend INSTANCE = new CpuBackend();

  private CpuBackend() {}

  @Override
  public Device device() {
    return Device.CPU;
  }

  @Override
  public Storage allocate(long bytes) {
    return Storage.allocateCpu(bytes);
  }

  @Override
  public void copy(NDArray src, NDArray dst) {
    if (src.dtype() == dst.dtype() && src.isContiguous() && dst.isContiguous()) {
      long bytes = src.numel() * src.dtype().byteSize();
      long from = src.storage().address() + src.layout().offset() * src.dtype().byteSize();
      long to = dst.storage().address() + dst.layout().offset() * dst.dtype().byteSize();
      if (from != to) {
        UNSAFE.copyMemory(from, to, bytes);
      }
      return;
    }
    if (CpuStridedCopy.tryCopy(src, dst)) {
      return;
    }
    unary(UnaryOp.IDENTITY, src, dst);
  }

  @Override
  public void copyFromHost(long hostAddress, Storage dst, long dstByteOffset, long bytes) {
    UNSAFE.copyMemory(hostAddress, dst.address() + dstByteOffset, bytes);
  }

  @Override
  public void copyToHost(Storage src, long srcByteOffset, long hostAddress, long bytes) {
    UNSAFE.copyMemory(src.address() + srcByteOffset, hostAddress, bytes);
  }

  @Override
  public void fill(NDArray dst, double value) {
    Family fam = Family.of(dst.dtype());
    ElementwiseLoop.run(
        dst.layout().shape(),
        fam,
        Operand.of(dst),
        new Operand[] {Operand.constant(value, dst.dtype(), dst.layout().ndim())},
        CpuUnaryKernels.kernel(UnaryOp.IDENTITY, fam));
  }

  @Override
  public void unary(UnaryOp op, NDArray x, NDArray out) {
    // Real-valued ops compute in the (floating) output dtype. Truth tests (logical-not, a cast
    // to bool) compute in the input's family, so that 0.5 counts as true.
    boolean truth = op == UnaryOp.LOGICAL_NOT || out.dtype() == DType.BOOL;
    Family fam = Family.of(truth ? x.dtype() : out.dtype());
    ElementwiseLoop.run(
        out.layout().shape(),
        fam,
        Operand.of(out),
        new Operand[] {Operand.of(x)},
        CpuUnaryKernels.kernel(op, fam));
  }

  @Override
  public void binary(BinaryOp op, NDArray a, NDArray b, NDArray out) {
    DType compute =
        switch (op.kind()) {
          case ARITHMETIC, REAL -> out.dtype();
          // logical ops test "!= 0" in the inputs' own family, so 0.5 counts as true
          case COMPARISON, LOGICAL -> DType.promote(a.dtype(), b.dtype());
        };
    Family fam = Family.of(compute);
    ElementwiseLoop.run(
        out.layout().shape(),
        fam,
        Operand.of(out),
        new Operand[] {Operand.of(a), Operand.of(b)},
        CpuBinaryKernels.kernel(op, fam));
  }

  @Override
  public void binaryScalar(
      BinaryOp op, NDArray a, double scalar, boolean scalarFirst, DType computeType, NDArray out) {
    Family fam = Family.of(computeType);
    Operand s = Operand.constant(scalar, computeType, out.layout().ndim());
    Operand x = Operand.of(a);
    ElementwiseLoop.run(
        out.layout().shape(),
        fam,
        Operand.of(out),
        scalarFirst ? new Operand[] {s, x} : new Operand[] {x, s},
        CpuBinaryKernels.kernel(op, fam));
  }

  @Override
  public void where(NDArray cond, NDArray a, NDArray b, NDArray out) {
    Family fam = Family.of(out.dtype());
    ElementwiseLoop.run(
        out.layout().shape(),
        fam,
        Operand.of(out),
        new Operand[] {Operand.of(cond), Operand.of(a), Operand.of(b)},
        CpuBinaryKernels.where(fam));
  }

  @Override
  public void reduce(ReduceOp op, NDArray x, int reducedDims, NDArray out) {
    if (CpuReduceKernels.mergedStride(x.layout(), reducedDims) >= 0) {
      CpuReduceKernels.reduce(op, x, reducedDims, out);
      return;
    }
    try (NDArray dense = x.contiguous()) {
      CpuReduceKernels.reduce(op, dense, reducedDims, out);
    }
  }

  @Override
  public void matmul(NDArray a, NDArray b, NDArray out) {
    // A view BLAS cannot describe (e.g. a column step) is copied once; transposes are not.
    boolean copyA = !CpuGemm.isBlasCompatible(a.layout());
    boolean copyB = !CpuGemm.isBlasCompatible(b.layout());
    NDArray ca = copyA ? a.contiguous() : a;
    NDArray cb = copyB ? b.contiguous() : b;
    try {
      CpuGemm.matmul(ca, cb, out);
    } finally {
      if (copyA) {
        ca.close();
      }
      if (copyB) {
        cb.close();
      }
    }
  }

  @Override
  public void linear(NDArray x, NDArray weight, NDArray bias, UnaryOp epilogue, NDArray out) {
    // A weight whose rows BLAS cannot step through (a stride-0 expand) is copied once.
    boolean copyW = !CpuGemm.isBlasCompatible(weight.layout());
    NDArray w = copyW ? weight.contiguous() : weight;
    try {
      CpuGemm.linear(x, w, bias, epilogue, out);
    } finally {
      if (copyW) {
        w.close();
      }
    }
  }

  @Override
  public void indexSelect(NDArray x, int dim, NDArray index, NDArray out) {
    if (x.isContiguous() && out.isContiguous()) {
      CpuIndexKernels.indexSelect(x, dim, index, out);
      return;
    }
    try (NDArray dense = x.contiguous();
        NDArray denseOut = NDArray.empty(out.dtype(), out.device(), out.shape())) {
      CpuIndexKernels.indexSelect(dense, dim, index, denseOut);
      copy(denseOut, out);
    }
  }

  @Override
  public void gather(NDArray x, int dim, NDArray index, NDArray out) {
    CpuIndexKernels.gather(x, dim, index, out);
  }

  @Override
  public void scatterAdd(NDArray target, int dim, NDArray index, NDArray src) {
    CpuIndexKernels.scatterAdd(target, dim, index, src);
  }

  @Override
  public void random(
      RandomKind kind, NDArray out, Philox generator, long offset, double a, double b) {
    CpuRandomKernels.fill(kind, out, generator, offset, a, b);
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
    CpuRecurrentKernels.lstmCell(
        xGates, hGates, bIh, bHh, hPrev, cPrev, valid, gates, hNext, cNext, output);
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
    CpuRecurrentKernels.lstmCellBackward(
        gates, cPrev, valid, gradOutput, gradHRec, gradHCarry, gradC, gradGates);
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
    CpuRecurrentKernels.gruCell(xGates, hGates, bIh, bHh, hPrev, valid, gates, hnb, hNext, output);
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
    CpuRecurrentKernels.gruCellBackward(
        gates, hnb, hPrev, valid, gradOutput, gradHRec, gradHCarry, gradXGates, gradHGates);
  }

  @Override
  public void adamUpdate(
      NDArray param, NDArray grad, NDArray expAvg, NDArray expAvgSq, AdamStep step) {
    CpuFusedKernels.adam(param, grad, expAvg, expAvgSq, step);
  }

  @Override
  public void geluBackward(NDArray grad, NDArray x, NDArray out) {
    CpuGeluKernels.backward(grad, x, out);
  }

  @Override
  public void layerNorm(
      NDArray x, NDArray weight, NDArray bias, double eps, NDArray y, NDArray mean, NDArray rstd) {
    CpuRowKernels.layerNorm(x, weight, bias, eps, y, mean, rstd);
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
    CpuRowKernels.layerNormBackward(grad, x, mean, rstd, weight, dx, dweight, dbias);
  }

  @Override
  public void softmaxRows(NDArray x, double scale, NDArray y, int cols) {
    CpuRowKernels.softmax(x, scale, y, cols);
  }

  @Override
  public void softmaxRowsBackward(NDArray grad, NDArray y, double scale, NDArray dx, int cols) {
    CpuRowKernels.softmaxBackward(grad, y, scale, dx, cols);
  }

  @Override
  public void im2col(NDArray input, Conv2dGeometry g, NDArray columns) {
    CpuConvKernels.im2col(input, g, columns);
  }

  @Override
  public void col2im(NDArray columns, Conv2dGeometry g, NDArray image) {
    CpuConvKernels.col2im(columns, g, image);
  }

  @Override
  public void im2colBatch(NDArray input, Conv2dGeometry g, int n, NDArray columns) {
    CpuConvKernels.im2colBatch(input, g, n, columns);
  }

  @Override
  public void conv2dInputGradBatch(
      NDArray gradRows, NDArray weight, Conv2dGeometry g, int n, NDArray image) {
    CpuConvKernels.conv2dInputGradBatch(gradRows, weight, g, n, image);
  }

  /**
   * Up to this many inputs per output (C * kh * kw) the direct kernel (stride 1) wins (measured: a
   * 1-channel 3x3 layer, K = 9); from there on im2col + GEMM does.
   */
  private static final int DIRECT_CONV_MAX_K = 16;

  @Override
  public boolean hasDirectConv2d(DType dtype, Conv2dGeometry g) {
    return dtype == DType.FLOAT32
        && g.columnRows() <= DIRECT_CONV_MAX_K
        && g.strideH() == 1
        && g.strideW() == 1;
  }

  @Override
  public void conv2dDirect(
      NDArray input, NDArray weight, NDArray bias, Conv2dGeometry g, int n, NDArray out) {
    CpuDirectConv.forward(input, weight, bias, g, n, out);
  }

  @Override
  public void maxPool2d(NDArray input, Pool2dGeometry g, NDArray out, NDArray indices) {
    CpuConvKernels.maxPool2d(input, g, out, indices);
  }

  @Override
  public void maxPool2dBackward(
      NDArray gradOut, NDArray indices, Pool2dGeometry g, NDArray gradInput) {
    CpuConvKernels.maxPool2dBackward(gradOut, indices, g, gradInput);
  }

  @Override
  public void reluMaxPool2dBackward(
      NDArray gradOut, NDArray indices, NDArray x, Pool2dGeometry g, NDArray gradInput) {
    if (x.dtype() == DType.FLOAT32) {
      CpuConvKernels.reluMaxPool2dBackwardF(gradOut, indices, x, g, gradInput);
    } else {
      Backend.super.reluMaxPool2dBackward(gradOut, indices, x, g, gradInput);
    }
  }

  @Override
  public void avgPool2d(NDArray input, Pool2dGeometry g, NDArray out) {
    CpuConvKernels.avgPool2d(input, g, out);
  }

  @Override
  public void avgPool2dBackward(NDArray gradOut, Pool2dGeometry g, NDArray gradInput) {
    CpuConvKernels.avgPool2dBackward(gradOut, g, gradInput);
  }
}
