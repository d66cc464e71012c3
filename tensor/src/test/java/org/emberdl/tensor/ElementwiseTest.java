package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.emberdl.tensor.testing.Approx.assertShape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.EnumMap;
import java.util.Map;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.UnaryOp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every elementwise op against a float64 reference computed with java.lang.Math on plain arrays, on
 * contiguous, transposed, sliced and broadcast inputs.
 */
class ElementwiseTest {
  // GELU reference by its definition x * Phi(x), Phi from the erf series (independent of the
  // engine's fdlibm port): erf(z) = 2/sqrt(pi) * sum (-1)^n z^(2n+1) / (n! (2n+1)).
  static double erfSeries(double z) {
    double sum = 0;
    double term = z;
    for (int n = 0; n < 200; n++) {
      sum += term / (2 * n + 1);
      term *= -z * z / (n + 1);
    }
    return 2 / Math.sqrt(Math.PI) * sum;
  }

  static final Map<UnaryOp, DoubleUnaryOperator> UNARY = new EnumMap<>(UnaryOp.class);
  static final Map<BinaryOp, DoubleBinaryOperator> BINARY = new EnumMap<>(BinaryOp.class);

  static {
    UNARY.put(UnaryOp.IDENTITY, x -> x);
    UNARY.put(UnaryOp.NEG, x -> -x);
    UNARY.put(UnaryOp.ABS, Math::abs);
    UNARY.put(UnaryOp.SIGN, Math::signum);
    UNARY.put(UnaryOp.EXP, Math::exp);
    UNARY.put(UnaryOp.LOG, Math::log);
    UNARY.put(UnaryOp.LOG1P, Math::log1p);
    UNARY.put(UnaryOp.SQRT, Math::sqrt);
    UNARY.put(UnaryOp.RSQRT, x -> 1 / Math.sqrt(x));
    UNARY.put(UnaryOp.TANH, Math::tanh);
    UNARY.put(UnaryOp.SIGMOID, x -> 1 / (1 + Math.exp(-x)));
    UNARY.put(UnaryOp.RELU, x -> x > 0 ? x : 0);
    UNARY.put(UnaryOp.GELU, x -> x * 0.5 * (1 + erfSeries(x / Math.sqrt(2))));
    UNARY.put(UnaryOp.ERF, ElementwiseTest::erfSeries);
    UNARY.put(UnaryOp.STEP, x -> x > 0 ? 1 : 0);
    UNARY.put(UnaryOp.LOGICAL_NOT, x -> x == 0 ? 1 : 0);

    BINARY.put(BinaryOp.ADD, Double::sum);
    BINARY.put(BinaryOp.SUB, (a, b) -> a - b);
    BINARY.put(BinaryOp.MUL, (a, b) -> a * b);
    BINARY.put(BinaryOp.DIV, (a, b) -> a / b);
    BINARY.put(BinaryOp.POW, Math::pow);
    BINARY.put(BinaryOp.MAXIMUM, Math::max);
    BINARY.put(BinaryOp.MINIMUM, Math::min);
    BINARY.put(BinaryOp.EQ, (a, b) -> a == b ? 1 : 0);
    BINARY.put(BinaryOp.NE, (a, b) -> a != b ? 1 : 0);
    BINARY.put(BinaryOp.LT, (a, b) -> a < b ? 1 : 0);
    BINARY.put(BinaryOp.LE, (a, b) -> a <= b ? 1 : 0);
    BINARY.put(BinaryOp.GT, (a, b) -> a > b ? 1 : 0);
    BINARY.put(BinaryOp.GE, (a, b) -> a >= b ? 1 : 0);
    BINARY.put(BinaryOp.LOGICAL_AND, (a, b) -> a != 0 && b != 0 ? 1 : 0);
    BINARY.put(BinaryOp.LOGICAL_OR, (a, b) -> a != 0 || b != 0 ? 1 : 0);
  }

  static NDArray apply(UnaryOp op, NDArray x) {
    return switch (op) {
      case IDENTITY -> x.copy();
      case NEG -> x.neg();
      case ABS -> x.abs();
      case SIGN -> x.sign();
      case EXP -> x.exp();
      case LOG -> x.log();
      case LOG1P -> x.log1p();
      case SQRT -> x.sqrt();
      case RSQRT -> x.rsqrt();
      case TANH -> x.tanh();
      case SIGMOID -> x.sigmoid();
      case RELU -> x.relu();
      case GELU -> x.gelu();
      case ERF -> x.erf();
      case STEP -> x.step();
      case LOGICAL_NOT -> x.logicalNot();
    };
  }

  static NDArray apply(BinaryOp op, NDArray a, NDArray b) {
    return switch (op) {
      case ADD -> a.add(b);
      case SUB -> a.sub(b);
      case MUL -> a.mul(b);
      case DIV -> a.div(b);
      case POW -> a.pow(b);
      case MAXIMUM -> a.maximum(b);
      case MINIMUM -> a.minimum(b);
      case EQ -> a.eq(b);
      case NE -> a.ne(b);
      case LT -> a.lt(b);
      case LE -> a.le(b);
      case GT -> a.gt(b);
      case GE -> a.ge(b);
      case LOGICAL_AND -> a.logicalAnd(b);
      case LOGICAL_OR -> a.logicalOr(b);
    };
  }

  /** Inputs inside every op's domain (log, sqrt need > 0; pow needs a positive base). */
  static double[] inputs(int n, boolean positive, long seed) {
    java.util.Random r = new java.util.Random(seed);
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = positive ? 0.1 + 3 * r.nextDouble() : 6 * r.nextDouble() - 3;
      if (i % 7 == 3) {
        v[i] = Math.rint(v[i]); // exact ties for comparisons and integral values
      }
    }
    return v;
  }

  static boolean positiveDomain(UnaryOp op) {
    return op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
  }

  @ParameterizedTest
  @EnumSource(UnaryOp.class)
  void unaryMatchesReferenceOnEveryLayout(UnaryOp op) {
    DoubleUnaryOperator ref = UNARY.get(op);
    assertNotNull(ref, "no reference for " + op + ": add one to the table");
    double[] x = inputs(6 * 5000, positiveDomain(op), op.ordinal());
    for (DType dtype : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
      double tol = dtype == DType.FLOAT64 ? 1e-13 : 2e-6;
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray a = NDArray.of(x, 6, 5000).cast(dtype);
        double[] xs = a.toDoubleArray(); // inputs as rounded to dtype
        // contiguous
        assertClose(map(xs, ref), apply(op, a), tol);
        // transposed view: element order follows the view
        NDArray t = a.t();
        assertClose(map(t.toDoubleArray(), ref), apply(op, t), tol);
        // sliced with a step
        NDArray s = a.slice(1, 1, 5000, 3);
        assertClose(map(s.toDoubleArray(), ref), apply(op, s), tol);
        // expanded (stride 0)
        NDArray e = a.narrow(0, 0, 1).expand(4, 5000);
        assertClose(map(e.toDoubleArray(), ref), apply(op, e), tol);
      }
    }
  }

  static double[] map(double[] v, DoubleUnaryOperator f) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = f.applyAsDouble(v[i]);
    }
    return out;
  }

  @ParameterizedTest
  @EnumSource(BinaryOp.class)
  void binaryMatchesReferenceWithBroadcasting(BinaryOp op) {
    DoubleBinaryOperator ref = BINARY.get(op);
    assertNotNull(ref, "no reference for " + op + ": add one to the table");
    boolean positive = op == BinaryOp.POW;
    double[] av = inputs(3 * 4 * 5, positive, 1);
    double[] bv = inputs(4 * 5, false, 2);
    for (DType dtype : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
      double tol = dtype == DType.FLOAT64 ? 1e-13 : 2e-6;
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray a = NDArray.of(av, 3, 4, 5).cast(dtype);
        // b: (4, 1) column broadcast against (3, 4, 5), taken from a transposed (5, 4) view
        NDArray bt = NDArray.of(bv, 5, 4).cast(dtype).t().narrow(1, 2, 1); // (4, 1)
        NDArray out = apply(op, a, bt);
        assertShape(out, 3, 4, 5);
        double[] ad = a.toDoubleArray();
        double[] bd = bt.toDoubleArray();
        double[] expected = new double[60];
        for (int i = 0; i < 3; i++) {
          for (int j = 0; j < 4; j++) {
            for (int k = 0; k < 5; k++) {
              expected[(i * 4 + j) * 5 + k] = ref.applyAsDouble(ad[(i * 4 + j) * 5 + k], bd[j]);
            }
          }
        }
        assertClose(expected, out, tol);
        assertEquals(op.returnsBool() ? DType.BOOL : dtype, out.dtype());
      }
    }
  }

  @Test
  void broadcastShapesFollowNumpy() {
    try (MemoryScope scope = MemoryScope.open()) {
      assertShape(
          NDArray.zeros(DType.FLOAT32, 5, 1, 3).add(NDArray.zeros(DType.FLOAT32, 4, 1)), 5, 4, 3);
      assertShape(NDArray.zeros(DType.FLOAT32).add(NDArray.zeros(DType.FLOAT32, 2, 3)), 2, 3);
      assertShape(NDArray.zeros(DType.FLOAT32, 0, 3).mul(NDArray.zeros(DType.FLOAT32, 1, 3)), 0, 3);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> NDArray.zeros(DType.FLOAT32, 2, 3).add(NDArray.zeros(DType.FLOAT32, 4)));
      assertEquals(true, e.getMessage().contains("[2, 3] and [4]"), e.getMessage());
    }
  }

  @Test
  void typePromotionFollowsPytorch() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray i32 = NDArray.of(new int[] {1, 2, 3});
      NDArray i64 = NDArray.of(new long[] {4, 5, 6});
      NDArray f32 = NDArray.of(new float[] {0.5f, 1.5f, 2.5f});
      NDArray f64 = NDArray.of(new double[] {1, 2, 3});
      NDArray b = NDArray.of(new boolean[] {true, false, true});
      assertEquals(DType.INT64, i32.add(i64).dtype());
      assertEquals(DType.FLOAT32, i64.add(f32).dtype());
      assertEquals(DType.FLOAT64, f32.add(f64).dtype());
      assertEquals(DType.INT32, b.add(i32).dtype());
      // true division of integers is real: [1, 2, 3] / [4, 5, 6]
      NDArray q = i32.div(i64);
      assertEquals(DType.FLOAT32, q.dtype());
      assertClose(new double[] {0.25, 0.4, 0.5}, q, 1e-7);
      // scalars: integral scalar keeps ints, fractional one gives float32
      assertEquals(DType.INT32, i32.add(2).dtype());
      assertArrayEquals(new int[] {3, 4, 5}, i32.add(2).toIntArray());
      assertEquals(DType.FLOAT32, i32.mul(0.5).dtype());
      assertClose(new double[] {0.5, 1, 1.5}, i32.mul(0.5), 0);
      assertEquals(DType.FLOAT32, f32.mul(2.0).dtype());
      // comparisons of ints with a fractional scalar are exact: [1, 2, 3] < 2.5
      assertArrayEquals(new boolean[] {true, true, false}, i32.lt(2.5).toBooleanArray());
      // exp of ints is float32
      assertEquals(DType.FLOAT32, i64.exp().dtype());
      // integer arithmetic stays exact beyond 2^53
      NDArray big = NDArray.of(new long[] {(1L << 60) + 1});
      assertEquals((1L << 61) + 2, big.add(big).toLongArray()[0]);
    }
  }

  @Test
  void integerKernels() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = NDArray.of(new long[] {-3, 0, 5, 7});
      NDArray b = NDArray.of(new long[] {2, 3, 2, 0});
      assertArrayEquals(new long[] {9, 0, 25, 1}, a.pow(b).toLongArray());
      assertArrayEquals(new long[] {3, 0, 5, 7}, a.abs().toLongArray());
      assertArrayEquals(new long[] {-1, 0, 1, 1}, a.sign().toLongArray());
      assertArrayEquals(new long[] {0, 0, 5, 7}, a.relu().toLongArray());
      assertArrayEquals(new long[] {2, 3, 5, 7}, a.maximum(b).toLongArray());
      assertThrows(ArithmeticException.class, () -> a.pow(-1));
    }
  }

  @Test
  void clampWhereAndMaskedFill() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.of(new double[] {-2, -0.5, 0.5, 2, Double.NaN});
      assertClose(new double[] {-1, -0.5, 0.5, 1, Double.NaN}, x.clamp(-1, 1), 0);
      NDArray cond = x.gt(0);
      // where(x > 0, x, -x) = |x| except NaN (NaN > 0 is false -> -NaN)
      assertClose(new double[] {2, 0.5, 0.5, 2, Double.NaN}, NDArray.where(cond, x, x.neg()), 0);
      assertClose(new double[] {-2, -0.5, 9, 9, Double.NaN}, x.maskedFill(cond, 9), 0);
      // where broadcasts a scalar branch and promotes int + float
      NDArray w = NDArray.where(cond, NDArray.scalar(1, DType.INT64), x);
      assertEquals(DType.FLOAT64, w.dtype());
      assertClose(new double[] {-2, -0.5, 1, 1, Double.NaN}, w, 0);
      assertThrows(IllegalArgumentException.class, () -> x.maskedFill(x, 1));
      assertThrows(IllegalArgumentException.class, () -> x.clamp(1, -1));
    }
  }

  @Test
  void inPlaceOpsWriteThroughViews() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray base = NDArray.zeros(DType.FLOAT32, 3, 4);
      NDArray col = base.narrow(1, 1, 1); // (3, 1), strided
      col.addInPlace(NDArray.of(new float[] {1, 2, 3}, 3, 1));
      col.mulInPlace(10);
      NDArray row = base.select(0, 2); // (4)
      row.addInPlace(1); // broadcasts the scalar
      assertClose(new double[] {0, 10, 0, 0, 0, 20, 0, 0, 1, 31, 1, 1}, base, 0);
      // addInPlace(other, alpha): p -= lr * g
      NDArray p = NDArray.of(new float[] {1, 1});
      p.addInPlace(NDArray.of(new float[] {2, 4}), -0.5);
      assertClose(new double[] {0, -1}, p, 0);
      // a transposed in-place target
      NDArray m = NDArray.of(new double[] {1, 2, 3, 4}, 2, 2);
      m.t().subInPlace(NDArray.of(new double[] {1, 0}, 2, 1)); // rows of m.t() are columns of m
      assertClose(new double[] {0, 2, 2, 4}, m, 0);
      NDArray ints = NDArray.of(new int[] {1, 2});
      assertThrows(
          IllegalArgumentException.class, () -> ints.divInPlace(NDArray.of(new int[] {1, 1})));
      base.fill(7).copyFrom(NDArray.of(new float[] {1, 2, 3, 4}));
      assertClose(new double[] {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, base, 0);
    }
  }

  @Test
  void emptyAndSizeOneDims() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray e = NDArray.zeros(DType.FLOAT32, 0, 4);
      assertShape(e.exp(), 0, 4);
      assertShape(e.add(NDArray.ones(DType.FLOAT32, 1, 4)), 0, 4);
      assertEquals(0, e.relu().toFloatArray().length);
      NDArray one = NDArray.full(DType.FLOAT64, 3, 1, 1, 1);
      assertClose(new double[] {9}, one.mul(one), 0);
      NDArray s = NDArray.scalar(2, DType.FLOAT64);
      assertClose(new double[] {0.5, 1}, s.rdiv(1).mul(NDArray.of(new double[] {1, 2})), 0);
      assertEquals(2.0, s.item());
    }
  }

  @Test
  void largeArraysSplitAcrossThreadsGiveTheSameResult() {
    int n = 1 << 20;
    double[] x = inputs(n, false, 9);
    int saved = EmberConfig.threads();
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = NDArray.of(x).cast(DType.FLOAT32);
      EmberConfig.setThreads(1);
      float[] one = a.gelu().add(a).toFloatArray();
      EmberConfig.setThreads(4);
      float[] four = a.gelu().add(a).toFloatArray();
      assertArrayEquals(one, four);
    } finally {
      EmberConfig.setThreads(saved);
    }
  }
}
