package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.emberdl.tensor.Backend;
import org.emberdl.tensor.Backend.RandomKind;
import org.emberdl.tensor.Backends;
import org.emberdl.tensor.Conv2dGeometry;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Pool2dGeometry;
import org.emberdl.tensor.ops.AdamStep;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.ReduceOp;
import org.emberdl.tensor.ops.UnaryOp;
import org.emberdl.tensor.random.Philox;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The backend conformance suite: each op runs on a device parameter, the CPU always and {@code
 * cuda:0} where {@link CudaAvailability} finds a GPU (skipped with the reason otherwise; with
 * {@code -Dember.cuda.required=true}, as {@code scripts/gpu-check.sh} runs it, a missing GPU fails
 * instead). Every result is compared with the CPU backend's (the reference) within the float32
 * tolerance stated per op; a few hand-worked values are checked on every device too.
 *
 * <p>Tolerances, as {@code |device - cpu| <= abs + rel * |cpu|}: EXACT (0) for ops that are one
 * IEEE operation or a selection (arithmetic, comparisons, copies, max/min, pooling, im2col), for
 * Adam and Philox (same operations, no fma: bit for bit); ULPS (rel 1e-6, abs 1e-7, about 8 float
 * ulps) for the math library's transcendentals (CUDA's expf/logf/tanhf/erff/powf are within 2-4
 * ulps, the CPU rounds double results) and for double-accumulated sums and softmax; GEMM (rel 1e-5,
 * abs 1e-5) for matmul and linear, whose sums run in another order (cuBLAS or tiles).
 */
class BackendConformanceTest {
  record Tol(double abs, double rel) {}

  static final Tol EXACT = new Tol(0, 0);
  static final Tol ULPS = new Tol(1e-7, 1e-6);
  static final Tol GEMM = new Tol(1e-5, 1e-5);

  static Stream<Device> devices() {
    return Stream.of(Device.CPU, Device.cuda(0));
  }

  /** The device's backend; CUDA skips (or, when required, fails) with the reason it is missing. */
  static Backend backend(Device d) {
    DeviceUnderTest.require(d);
    return Backends.of(d);
  }

  /** Deterministic test data: values in [-2, 2) with a few exact zeros and repeats. */
  static float[] data(int n, int seed) {
    float[] out = new float[n];
    Philox p = new Philox(seed, 0);
    p.uniform(0, out, 0, n, -2f, 2f);
    for (int i = 0; i < n; i += 7) {
      out[i] = 0f;
    }
    return out;
  }

  /**
   * Runs {@code op} with device copies of {@code inputs} and fresh outputs of the given dtypes and
   * shapes, and returns the outputs on the CPU as doubles.
   */
  static List<double[]> run(Device d, List<NDArray> inputs, List<Out> outs, Consumer<Ctx> op) {
    Backend be = backend(d);
    List<NDArray> in = new ArrayList<>();
    for (NDArray x : inputs) {
      in.add(x.to(d));
    }
    List<NDArray> out = new ArrayList<>();
    for (Out o : outs) {
      out.add(o.zero ? NDArray.zeros(o.dtype, d, o.shape) : NDArray.empty(o.dtype, d, o.shape));
    }
    op.accept(new Ctx(be, in, out));
    List<double[]> r = new ArrayList<>();
    for (NDArray o : out) {
      r.add(o.to(Device.CPU).toDoubleArray());
    }
    return r;
  }

  record Out(DType dtype, boolean zero, int... shape) {
    static Out of(DType t, int... shape) {
      return new Out(t, false, shape);
    }

    static Out zeros(DType t, int... shape) {
      return new Out(t, true, shape);
    }
  }

  record Ctx(Backend be, List<NDArray> in, List<NDArray> out) {
    NDArray in(int i) {
      return in.get(i);
    }

    NDArray out(int i) {
      return out.get(i);
    }
  }

  /** The op on {@code d} against the CPU's result, within {@code tol}; returns d's results. */
  static List<double[]> check(
      String what, Tol tol, Device d, List<NDArray> inputs, List<Out> outs, Consumer<Ctx> op) {
    List<double[]> got = run(d, inputs, outs, op);
    List<double[]> want = run(Device.CPU, inputs, outs, op);
    for (int k = 0; k < want.size(); k++) {
      double[] w = want.get(k);
      double[] g = got.get(k);
      assertEquals(w.length, g.length, what);
      for (int i = 0; i < w.length; i++) {
        boolean ok =
            (Double.isNaN(w[i]) && Double.isNaN(g[i]))
                || w[i] == g[i]
                || Math.abs(g[i] - w[i]) <= tol.abs + tol.rel * Math.abs(w[i]);
        if (!ok) {
          fail(what + " on " + d + ": output " + k + "[" + i + "] = " + g[i] + ", CPU " + w[i]);
        }
      }
    }
    return got;
  }

  @ParameterizedTest
  @MethodSource("devices")
  void fillAndCopiesWithDtypeConversionAreExact(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      check(
          "fill",
          EXACT,
          d,
          List.of(),
          List.of(Out.of(DType.FLOAT32, 3, 4)),
          c -> c.be().fill(c.out(0), 2.5));
      check(
          "fill int",
          EXACT,
          d,
          List.of(),
          List.of(Out.of(DType.INT32, 5)),
          c -> c.be().fill(c.out(0), -7));
      NDArray x = NDArray.of(new float[] {1.5f, -2.7f, 0f, 3e9f, Float.NaN, -0.5f}, 2, 3);
      for (DType t : DType.values()) {
        check(
            "copy f32 -> " + t,
            EXACT,
            d,
            List.of(x),
            List.of(Out.of(t, 2, 3)),
            c -> c.be().copy(c.in(0), c.out(0)));
      }
      // a transposed (strided) source into a dense target
      check(
          "strided copy",
          EXACT,
          d,
          List.of(NDArray.of(data(12, 1), 3, 4)),
          List.of(Out.of(DType.FLOAT32, 4, 3)),
          c -> {
            try (NDArray t = c.in(0).transpose(0, 1)) {
              c.be().copy(t, c.out(0));
            }
          });
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void everyUnaryOpMatchesTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      float[] v = data(257, 2);
      v[3] = Float.NaN;
      v[5] = -0f;
      NDArray x = NDArray.of(v, 257);
      NDArray pos = NDArray.of(absPlus(v), 257);
      for (UnaryOp op : UnaryOp.values()) {
        boolean exact =
            switch (op) {
              case IDENTITY, NEG, ABS, SIGN, RELU, STEP, LOGICAL_NOT, SQRT -> true;
              default -> false;
            };
        NDArray in = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT ? pos : x;
        DType outType = op == UnaryOp.LOGICAL_NOT ? DType.BOOL : DType.FLOAT32;
        check(
            "unary " + op,
            exact ? EXACT : ULPS,
            d,
            List.of(in),
            List.of(Out.of(outType, 257)),
            c -> c.be().unary(op, c.in(0), c.out(0)));
      }
      // integers: the long family
      NDArray ints = NDArray.of(new long[] {-3, 0, 5, Long.MIN_VALUE + 1}, 4);
      for (UnaryOp op : List.of(UnaryOp.NEG, UnaryOp.ABS, UnaryOp.SIGN, UnaryOp.RELU)) {
        check(
            "unary int64 " + op,
            EXACT,
            d,
            List.of(ints),
            List.of(Out.of(DType.INT64, 4)),
            c -> c.be().unary(op, c.in(0), c.out(0)));
      }
    }
  }

  private static float[] absPlus(float[] v) {
    float[] o = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      o[i] = Math.abs(v[i]) + 0.01f;
    }
    return o;
  }

  @ParameterizedTest
  @MethodSource("devices")
  void everyBinaryOpBroadcastsThroughStridesAsTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray a = NDArray.of(data(12, 3), 3, 4);
      NDArray b = NDArray.of(data(4, 4), 1, 4);
      for (BinaryOp op : BinaryOp.values()) {
        DType outType = op.returnsBool() ? DType.BOOL : DType.FLOAT32;
        Tol tol = op == BinaryOp.POW ? ULPS : EXACT;
        NDArray base = op == BinaryOp.POW ? NDArray.of(absPlus(data(12, 3)), 3, 4) : a;
        check(
            "binary " + op,
            tol,
            d,
            List.of(base, b),
            List.of(Out.of(outType, 3, 4)),
            c -> {
              try (NDArray bx = c.in(1).expand(3, 4)) {
                c.be().binary(op, c.in(0), bx, c.out(0));
              }
            });
        check(
            "binary dense " + op,
            tol,
            d,
            List.of(base, a),
            List.of(Out.of(outType, 3, 4)),
            c -> c.be().binary(op, c.in(0), c.in(1), c.out(0)));
      }
      // hand-worked: [[1, 2, 3]] + [[10], [20]] = [[11, 12, 13], [21, 22, 23]]
      List<double[]> r =
          run(
              d,
              List.of(
                  NDArray.of(new float[] {1, 2, 3}, 1, 3), NDArray.of(new float[] {10, 20}, 2, 1)),
              List.of(Out.of(DType.FLOAT32, 2, 3)),
              c -> {
                try (NDArray x = c.in(0).expand(2, 3);
                    NDArray y = c.in(1).expand(2, 3)) {
                  c.be().binary(BinaryOp.ADD, x, y, c.out(0));
                }
              });
      assertArrayEquals(new double[] {11, 12, 13, 21, 22, 23}, r.get(0));
      // integer power and int64 arithmetic: 3^5 = 243, (-2)^3 = -8
      r =
          run(
              d,
              List.of(NDArray.of(new long[] {3, -2}, 2), NDArray.of(new long[] {5, 3}, 2)),
              List.of(Out.of(DType.INT64, 2)),
              c -> c.be().binary(BinaryOp.POW, c.in(0), c.in(1), c.out(0)));
      assertArrayEquals(new double[] {243, -8}, r.get(0));
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void scalarOpsAndWhereMatchTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray a = NDArray.of(data(20, 5), 4, 5);
      for (BinaryOp op :
          List.of(BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.GT)) {
        for (boolean first : new boolean[] {false, true}) {
          DType outType = op.returnsBool() ? DType.BOOL : DType.FLOAT32;
          check(
              "scalar " + op + (first ? " (scalar first)" : ""),
              EXACT,
              d,
              List.of(a),
              List.of(Out.of(outType, 4, 5)),
              c -> c.be().binaryScalar(op, c.in(0), 0.75, first, DType.FLOAT32, c.out(0)));
        }
      }
      NDArray cond = NDArray.of(new boolean[] {true, false, true, false, true}, 5);
      check(
          "where",
          EXACT,
          d,
          List.of(cond, a, NDArray.of(data(5, 6), 1, 5)),
          List.of(Out.of(DType.FLOAT32, 4, 5)),
          c -> {
            try (NDArray cc = c.in(0).expand(4, 5);
                NDArray bb = c.in(2).expand(4, 5)) {
              c.be().where(cc, c.in(1), bb, c.out(0));
            }
          });
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void everyReductionOverTrailingDimsMatchesTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      float[] v = data(6 * 300, 7);
      v[301] = Float.NaN; // row 1 has a NaN: max/min/argmax/argmin take it
      NDArray x = NDArray.of(v, 6, 300);
      for (ReduceOp op : ReduceOp.values()) {
        DType outType =
            switch (op) {
              case ARGMAX, ARGMIN -> DType.INT64;
              case ALL, ANY -> DType.BOOL;
              default -> DType.FLOAT32;
            };
        Tol tol = op == ReduceOp.SUM || op == ReduceOp.PROD ? ULPS : EXACT;
        check(
            "reduce " + op,
            tol,
            d,
            List.of(x),
            List.of(Out.of(outType, 6)),
            c -> c.be().reduce(op, c.in(0), 1, c.out(0)));
        // over a permuted (strided) view: the reduced dim is the first one
        check(
            "reduce strided " + op,
            tol,
            d,
            List.of(x),
            List.of(Out.of(outType, 300)),
            c -> {
              try (NDArray t = c.in(0).transpose(0, 1)) {
                c.be().reduce(op, t, 1, c.out(0));
              }
            });
      }
      // hand-worked: argmax of [1, 5, 5, NaN, 2] is 3 (the NaN); of [1, 5, 5] is 1 (first max)
      List<double[]> r =
          run(
              d,
              List.of(NDArray.of(new float[] {1, 5, 5, Float.NaN, 2, 1, 5, 5, 0, 0}, 2, 5)),
              List.of(Out.of(DType.INT64, 2)),
              c -> c.be().reduce(ReduceOp.ARGMAX, c.in(0), 1, c.out(0)));
      assertArrayEquals(new double[] {3, 1}, r.get(0));
      NDArray ints = NDArray.of(new int[] {1, 2, 3, 4, 5, 6}, 2, 3);
      r =
          run(
              d,
              List.of(ints),
              List.of(Out.of(DType.INT64, 2)),
              c -> c.be().reduce(ReduceOp.SUM, c.in(0), 1, c.out(0)));
      assertArrayEquals(new double[] {6, 15}, r.get(0));
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void matmulPlainTransposedAndBatchedAndLinearMatchTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray a = NDArray.of(data(70 * 65, 8), 70, 65);
      NDArray b = NDArray.of(data(65 * 33, 9), 65, 33);
      check(
          "matmul",
          GEMM,
          d,
          List.of(a, b),
          List.of(Out.of(DType.FLOAT32, 70, 33)),
          c -> c.be().matmul(c.in(0), c.in(1), c.out(0)));
      // more than one 128 x 128 tile each way, k not a multiple of the tile step
      NDArray big = NDArray.of(data(200 * 70, 26), 200, 70);
      NDArray wide = NDArray.of(data(70 * 150, 27), 70, 150);
      check(
          "matmul, several tiles",
          GEMM,
          d,
          List.of(big, wide),
          List.of(Out.of(DType.FLOAT32, 200, 150)),
          c -> c.be().matmul(c.in(0), c.in(1), c.out(0)));
      NDArray bt = NDArray.of(data(33 * 65, 10), 33, 65);
      check(
          "matmul b^T",
          GEMM,
          d,
          List.of(a, bt),
          List.of(Out.of(DType.FLOAT32, 70, 33)),
          c -> {
            try (NDArray t = c.in(1).transpose(0, 1)) {
              c.be().matmul(c.in(0), t, c.out(0));
            }
          });
      NDArray ba = NDArray.of(data(3 * 17 * 9, 11), 3, 17, 9);
      NDArray bb = NDArray.of(data(3 * 9 * 5, 12), 3, 9, 5);
      check(
          "batched matmul",
          GEMM,
          d,
          List.of(ba, bb),
          List.of(Out.of(DType.FLOAT32, 3, 17, 5)),
          c -> c.be().matmul(c.in(0), c.in(1), c.out(0)));
      NDArray w = NDArray.of(data(12 * 65, 13), 12, 65);
      NDArray bias = NDArray.of(data(12, 14), 12);
      check(
          "linear + bias + relu",
          GEMM,
          d,
          List.of(a, w, bias),
          List.of(Out.of(DType.FLOAT32, 70, 12)),
          c -> c.be().linear(c.in(0), c.in(1), c.in(2), UnaryOp.RELU, c.out(0)));
      // hand-worked: [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
      List<double[]> r =
          run(
              d,
              List.of(
                  NDArray.of(new float[] {1, 2, 3, 4}, 2, 2),
                  NDArray.of(new float[] {5, 6, 7, 8}, 2, 2)),
              List.of(Out.of(DType.FLOAT32, 2, 2)),
              c -> c.be().matmul(c.in(0), c.in(1), c.out(0)));
      assertArrayEquals(new double[] {19, 22, 43, 50}, r.get(0));
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void softmaxRowsAndItsBackwardMatchTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.of(data(5 * 300, 15), 5, 300);
      NDArray g = NDArray.of(data(5 * 300, 16), 5, 300);
      List<double[]> y =
          check(
              "softmax",
              ULPS,
              d,
              List.of(x),
              List.of(Out.of(DType.FLOAT32, 5, 300)),
              c -> c.be().softmaxRows(c.in(0), 0.5, c.out(0), 300));
      NDArray yy = NDArray.of(toFloats(y.get(0)), 5, 300);
      check(
          "softmax backward",
          new Tol(1e-7, 1e-5),
          d,
          List.of(g, yy),
          List.of(Out.of(DType.FLOAT32, 5, 300)),
          c -> c.be().softmaxRowsBackward(c.in(0), c.in(1), 0.5, c.out(0), 300));
      // hand-worked: softmax([0, ln 3]) = [1/4, 3/4]
      List<double[]> r =
          run(
              d,
              List.of(NDArray.of(new float[] {0f, (float) Math.log(3)}, 1, 2)),
              List.of(Out.of(DType.FLOAT32, 1, 2)),
              c -> c.be().softmaxRows(c.in(0), 1.0, c.out(0), 2));
      assertEquals(0.25, r.get(0)[0], 1e-7);
      assertEquals(0.75, r.get(0)[1], 1e-7);
    }
  }

  private static float[] toFloats(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  @ParameterizedTest
  @MethodSource("devices")
  void fusedAdamIsBitForBitTheCpus(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      int n = 1000;
      NDArray p = NDArray.of(data(n, 17), n);
      NDArray g = NDArray.of(data(n, 18), n);
      NDArray m = NDArray.of(data(n, 19), n);
      NDArray v = NDArray.of(absPlus(data(n, 20)), n);
      for (boolean decoupled : new boolean[] {false, true}) {
        AdamStep step = new AdamStep(1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled, 7);
        check(
            "adam decoupled=" + decoupled,
            EXACT,
            d,
            List.of(p, g, m, v),
            List.of(Out.of(DType.FLOAT32, n), Out.of(DType.FLOAT32, n), Out.of(DType.FLOAT32, n)),
            c -> {
              c.be().copy(c.in(0), c.out(0));
              c.be().copy(c.in(2), c.out(1));
              c.be().copy(c.in(3), c.out(2));
              c.be().adamUpdate(c.out(0), c.in(1), c.out(1), c.out(2), step);
            });
      }
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void randomFillsGiveTheCpuGeneratorsBits(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      Philox gen = new Philox(42, 7);
      int n = 1001;
      for (RandomKind kind : RandomKind.values()) {
        for (DType t : List.of(DType.FLOAT32, DType.FLOAT64)) {
          double a = kind == RandomKind.BERNOULLI ? 0.3 : (kind == RandomKind.INTEGERS ? -5 : -1);
          double b = kind == RandomKind.INTEGERS ? 1_000_003 : 2;
          DType outType = kind == RandomKind.INTEGERS ? DType.INT64 : t;
          check(
              "random " + kind + " " + outType,
              EXACT,
              d,
              List.of(),
              List.of(Out.of(outType, n)),
              c -> c.be().random(kind, c.out(0), gen, 12_345, a, b));
        }
      }
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void im2colCol2imAndPoolingMatchTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      Conv2dGeometry g = new Conv2dGeometry(3, 9, 8, 3, 2, 2, 1, 1, 0, 1, 2);
      NDArray img = NDArray.of(data(2 * 3 * 9 * 8, 21), 2, 3, 9, 8);
      int k = g.columnRows();
      int l = g.columnCols();
      check(
          "im2colBatch",
          EXACT,
          d,
          List.of(img),
          List.of(Out.of(DType.FLOAT32, k, 2 * l)),
          c -> c.be().im2colBatch(c.in(0), g, 2, c.out(0)));
      NDArray one = NDArray.of(data(3 * 9 * 8, 22), 3, 9, 8);
      check(
          "im2col",
          EXACT,
          d,
          List.of(one),
          List.of(Out.of(DType.FLOAT32, k, l)),
          c -> c.be().im2col(c.in(0), g, c.out(0)));
      NDArray cols = NDArray.of(data(k * l, 23), k, l);
      check(
          "col2im",
          ULPS,
          d,
          List.of(cols),
          List.of(Out.zeros(DType.FLOAT32, 3, 9, 8)),
          c -> c.be().col2im(c.in(0), g, c.out(0)));
      Pool2dGeometry pg = new Pool2dGeometry(9, 8, 3, 2, 2, 2, 1, 0);
      NDArray x = NDArray.of(data(2 * 3 * 9 * 8, 24), 2, 3, 9, 8);
      int oh = pg.outH();
      int ow = pg.outW();
      List<double[]> mp =
          check(
              "maxPool2d",
              EXACT,
              d,
              List.of(x),
              List.of(Out.of(DType.FLOAT32, 2, 3, oh, ow), Out.of(DType.INT64, 2, 3, oh, ow)),
              c -> c.be().maxPool2d(c.in(0), pg, c.out(0), c.out(1)));
      NDArray gOut = NDArray.of(data(2 * 3 * oh * ow, 25), 2, 3, oh, ow);
      NDArray idx = NDArray.of(toLongs(mp.get(1)), 2, 3, oh, ow);
      // overlapping windows (kernel 3 over stride 2): gathered in the CPU's order, the same bits
      check(
          "maxPool2dBackward",
          EXACT,
          d,
          List.of(gOut, idx),
          List.of(Out.zeros(DType.FLOAT32, 2, 3, 9, 8)),
          c -> c.be().maxPool2dBackward(c.in(0), c.in(1), pg, c.out(0)));
      check(
          "avgPool2d",
          ULPS,
          d,
          List.of(x),
          List.of(Out.of(DType.FLOAT32, 2, 3, oh, ow)),
          c -> c.be().avgPool2d(c.in(0), pg, c.out(0)));
      check(
          "avgPool2dBackward",
          ULPS,
          d,
          List.of(gOut),
          List.of(Out.zeros(DType.FLOAT32, 2, 3, 9, 8)),
          c -> c.be().avgPool2dBackward(c.in(0), pg, c.out(0)));
    }
  }

  private static long[] toLongs(double[] v) {
    long[] l = new long[v.length];
    for (int i = 0; i < v.length; i++) {
      l[i] = (long) v[i];
    }
    return l;
  }

  static final Tol RNN = new Tol(1e-6, 1e-5);

  @ParameterizedTest
  @MethodSource("devices")
  void geluBackwardAndLayerNormWithTheirBackwardMatchTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.of(data(6 * 50, 30), 6, 50);
      NDArray g = NDArray.of(data(6 * 50, 31), 6, 50);
      check(
          "geluBackward",
          ULPS,
          d,
          List.of(g, x),
          List.of(Out.of(DType.FLOAT32, 6, 50)),
          c -> c.be().geluBackward(c.in(0), c.in(1), c.out(0)));
      NDArray w = NDArray.of(data(50, 32), 50);
      NDArray b = NDArray.of(data(50, 33), 50);
      for (boolean affine : new boolean[] {true, false}) {
        List<double[]> fwd =
            check(
                "layerNorm affine=" + affine,
                ULPS,
                d,
                List.of(x, w, b),
                List.of(
                    Out.of(DType.FLOAT32, 6, 50),
                    Out.of(DType.FLOAT32, 6),
                    Out.of(DType.FLOAT32, 6)),
                c ->
                    c.be()
                        .layerNorm(
                            c.in(0),
                            affine ? c.in(1) : null,
                            affine ? c.in(2) : null,
                            1e-5,
                            c.out(0),
                            c.out(1),
                            c.out(2)));
        NDArray mean = NDArray.of(toFloats(fwd.get(1)), 6);
        NDArray rstd = NDArray.of(toFloats(fwd.get(2)), 6);
        check(
            "layerNormBackward affine=" + affine,
            new Tol(1e-6, 1e-5),
            d,
            List.of(g, x, mean, rstd, w),
            List.of(
                Out.of(DType.FLOAT32, 6, 50),
                Out.zeros(DType.FLOAT32, 50),
                Out.zeros(DType.FLOAT32, 50)),
            c ->
                c.be()
                    .layerNormBackward(
                        c.in(0),
                        c.in(1),
                        c.in(2),
                        c.in(3),
                        affine ? c.in(4) : null,
                        c.out(0),
                        affine ? c.out(1) : null,
                        affine ? c.out(2) : null));
      }
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void indexSelectGatherAndScatterAddMatchTheCpuAndRefuseBadIndicesAlike(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.of(data(4 * 5 * 3, 40), 4, 5, 3);
      NDArray idx = NDArray.of(new long[] {4, 0, 4, 2}, 4);
      check(
          "indexSelect",
          EXACT,
          d,
          List.of(x, idx),
          List.of(Out.of(DType.FLOAT32, 4, 4, 3)),
          c -> c.be().indexSelect(c.in(0), 1, c.in(1), c.out(0)));
      NDArray x2 = NDArray.of(data(3 * 5, 41), 3, 5);
      NDArray gi = NDArray.of(new long[] {0, 4, 4, 1, 2, 2, 3, 0, 1, 1, 1, 1}, 3, 4);
      check(
          "gather",
          EXACT,
          d,
          List.of(x2, gi),
          List.of(Out.of(DType.FLOAT32, 3, 4)),
          c -> c.be().gather(c.in(0), 1, c.in(1), c.out(0)));
      NDArray src = NDArray.of(data(3 * 4, 42), 3, 4);
      check(
          "scatterAdd",
          ULPS,
          d,
          List.of(gi, src),
          List.of(Out.zeros(DType.FLOAT32, 3, 5)),
          c -> c.be().scatterAdd(c.out(0), 1, c.in(0), c.in(1)));
      NDArray ints = NDArray.of(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 3, 4);
      List<double[]> r =
          run(
              d,
              List.of(gi, ints),
              List.of(Out.zeros(DType.INT64, 3, 5)),
              c -> c.be().scatterAdd(c.out(0), 1, c.in(0), c.in(1)));
      // row 0: 1 -> [0], 2 + 3 -> [4], 4 -> [1]; row 1: 5 -> [2], 6 -> [2], 7 -> [3], 8 -> [0];
      // row 2: 9 + 10 + 11 + 12 -> [1]
      assertArrayEquals(new double[] {1, 4, 0, 0, 5, 8, 0, 11, 7, 0, 0, 42, 0, 0, 0}, r.get(0));
      NDArray bad = NDArray.of(new long[] {1, 7}, 2);
      IndexOutOfBoundsException e =
          assertThrows(
              IndexOutOfBoundsException.class,
              () ->
                  run(
                      d,
                      List.of(x, bad),
                      List.of(Out.of(DType.FLOAT32, 4, 2, 3)),
                      c -> c.be().indexSelect(c.in(0), 1, c.in(1), c.out(0))));
      assertEquals("index 7 is out of bounds for dim 1 with size 5", e.getMessage());
      // the device works on after a refused index
      check(
          "indexSelect after an error",
          EXACT,
          d,
          List.of(x, idx),
          List.of(Out.of(DType.FLOAT32, 4, 4, 3)),
          c -> c.be().indexSelect(c.in(0), 1, c.in(1), c.out(0)));
    }
  }

  @ParameterizedTest
  @MethodSource("devices")
  void lstmAndGruCellsWithTheirBackwardMatchTheCpu(Device d) {
    try (MemoryScope s = MemoryScope.open()) {
      int b = 3;
      int h = 5;
      NDArray valid = NDArray.of(new boolean[] {true, false, true}, b);
      NDArray hp = NDArray.of(data(b * h, 50), b, h);
      NDArray cp = NDArray.of(data(b * h, 51), b, h);
      NDArray xg = NDArray.of(data(b * 4 * h, 52), b, 4 * h);
      NDArray hg = NDArray.of(data(b * 4 * h, 53), b, 4 * h);
      NDArray bi = NDArray.of(data(4 * h, 54), 4 * h);
      NDArray bh = NDArray.of(data(4 * h, 55), 4 * h);
      List<double[]> lstm =
          check(
              "lstmCell",
              RNN,
              d,
              List.of(xg, hg, bi, bh, hp, cp, valid),
              List.of(
                  Out.of(DType.FLOAT32, b, 4 * h),
                  Out.of(DType.FLOAT32, b, h),
                  Out.of(DType.FLOAT32, b, h),
                  Out.of(DType.FLOAT32, b, h)),
              c ->
                  c.be()
                      .lstmCell(
                          c.in(0), c.in(1), c.in(2), c.in(3), c.in(4), c.in(5), c.in(6), c.out(0),
                          c.out(1), c.out(2), c.out(3)));
      NDArray gates = NDArray.of(toFloats(lstm.get(0)), b, 4 * h);
      NDArray go = NDArray.of(data(b * h, 56), b, h);
      NDArray gr = NDArray.of(data(b * h, 57), b, h);
      NDArray gcarry = NDArray.of(data(b * h, 58), b, h);
      NDArray gc = NDArray.of(data(b * h, 59), b, h);
      check(
          "lstmCellBackward",
          RNN,
          d,
          List.of(gates, cp, valid, go, gr, gcarry, gc),
          List.of(
              Out.of(DType.FLOAT32, b, h),
              Out.of(DType.FLOAT32, b, h),
              Out.of(DType.FLOAT32, b, 4 * h)),
          c -> {
            c.be().copy(c.in(5), c.out(0));
            c.be().copy(c.in(6), c.out(1));
            c.be()
                .lstmCellBackward(
                    c.in(0), c.in(1), c.in(2), c.in(3), c.in(4), c.out(0), c.out(1), c.out(2));
          });
      NDArray xg3 = NDArray.of(data(b * 3 * h, 60), b, 3 * h);
      NDArray hg3 = NDArray.of(data(b * 3 * h, 61), b, 3 * h);
      NDArray bi3 = NDArray.of(data(3 * h, 62), 3 * h);
      NDArray bh3 = NDArray.of(data(3 * h, 63), 3 * h);
      List<double[]> gru =
          check(
              "gruCell",
              RNN,
              d,
              List.of(xg3, hg3, bi3, bh3, hp, valid),
              List.of(
                  Out.of(DType.FLOAT32, b, 3 * h),
                  Out.of(DType.FLOAT32, b, h),
                  Out.of(DType.FLOAT32, b, h),
                  Out.of(DType.FLOAT32, b, h)),
              c ->
                  c.be()
                      .gruCell(
                          c.in(0), c.in(1), null, c.in(3), c.in(4), c.in(5), c.out(0), c.out(1),
                          c.out(2), c.out(3)));
      NDArray g3 = NDArray.of(toFloats(gru.get(0)), b, 3 * h);
      NDArray hnb = NDArray.of(toFloats(gru.get(1)), b, h);
      check(
          "gruCellBackward",
          RNN,
          d,
          List.of(g3, hnb, hp, valid, go, gcarry),
          List.of(
              Out.of(DType.FLOAT32, b, h),
              Out.of(DType.FLOAT32, b, 3 * h),
              Out.of(DType.FLOAT32, b, 3 * h)),
          c -> {
            c.be().copy(c.in(5), c.out(0));
            c.be()
                .gruCellBackward(
                    c.in(0), c.in(1), c.in(2), c.in(3), c.in(4), null, c.out(0), c.out(1),
                    c.out(2));
          });
    }
  }
}
