// Elementwise kernels: fill, unary, binary (broadcast through strides), binary with a scalar,
// where. One kernel per compute family (f32, f64, i64: the CPU backend's Family F, D, L), with
// the op a launch argument: the switch is uniform across a launch, so it costs no divergence,
// and one kernel serves every dtype combination through load_as/store_as.
#include "ember_common.cuh"

// UnaryOp's ordinals (org.emberdl.tensor.ops.UnaryOp): KernelSourcesTest checks the order.
enum EmberUnaryOp {
  U_IDENTITY, U_NEG, U_ABS, U_SIGN, U_EXP, U_LOG, U_LOG1P, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID,
  U_RELU, U_GELU, U_STEP, U_ERF, U_LOGICAL_NOT
};

// BinaryOp's ordinals (org.emberdl.tensor.ops.BinaryOp): KernelSourcesTest checks the order.
enum EmberBinaryOp {
  B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAXIMUM, B_MINIMUM, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE,
  B_LOGICAL_AND, B_LOGICAL_OR
};

// Java's Math.max/min: NaN wins, and -0.0 < +0.0.
template <typename T>
__device__ __forceinline__ T java_max(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a == b && a == (T) 0) return signbit((double) a) ? b : a;
  return a > b ? a : b;
}
template <typename T>
__device__ __forceinline__ T java_min(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a == b && a == (T) 0) return signbit((double) a) ? a : b;
  return a < b ? a : b;
}
template <>
__device__ __forceinline__ i64 java_max<i64>(i64 a, i64 b) { return a > b ? a : b; }
template <>
__device__ __forceinline__ i64 java_min<i64>(i64 a, i64 b) { return a < b ? a : b; }

__device__ __forceinline__ float ember_exp(float x) { return expf(x); }
__device__ __forceinline__ double ember_exp(double x) { return exp(x); }

// The op switches are functions of their own (one copy per family, called from every kernel)
// rather than inlined into each: the math library's pow, erf and tanh bodies otherwise repeat in
// every kernel, which tripled the cubin and the build's NVRTC time.
template <typename T>
__device__ __noinline__ T unary_real(int op, T x) {
  switch (op) {
    case U_IDENTITY: return x;
    case U_NEG: return -x;
    case U_ABS: return fabs(x);
    case U_SIGN: return x > (T) 0 ? (T) 1 : (x < (T) 0 ? (T) -1 : x);  // keeps NaN and -0
    case U_EXP: return ember_exp(x);
    case U_LOG: return log(x);
    case U_LOG1P: return log1p(x);
    case U_SQRT: return sqrt(x);
    case U_RSQRT: return (T) 1 / sqrt(x);
    case U_TANH: return tanh(x);
    case U_SIGMOID: return (T) 1 / ((T) 1 + ember_exp(-x));
    case U_RELU: return java_max(x, (T) 0);
    case U_GELU: return (T) 0.5 * x * ((T) 1 + erf(x * (T) 0.70710678118654752440));
    case U_STEP: return x > (T) 0 ? (T) 1 : (x != x ? x : (T) 0);
    case U_ERF: return erf(x);
    default: return x == (T) 0 ? (T) 1 : (T) 0;  // U_LOGICAL_NOT
  }
}

__device__ __forceinline__ i64 unary_long(int op, i64 x) {
  switch (op) {
    case U_NEG: return -x;
    case U_ABS: return x < 0 ? -x : x;
    case U_SIGN: return (x > 0) - (x < 0);
    case U_RELU: return x > 0 ? x : 0;
    case U_STEP: return x > 0 ? 1 : 0;
    case U_LOGICAL_NOT: return x == 0 ? 1 : 0;
    default: return x;  // identity; real-valued ops never reach the long kernel
  }
}

template <typename T>
__device__ __noinline__ T binary_real(int op, T a, T b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return pow(a, b);
    case B_MAXIMUM: return java_max(a, b);
    case B_MINIMUM: return java_min(a, b);
    case B_EQ: return a == b ? (T) 1 : (T) 0;
    case B_NE: return a != b ? (T) 1 : (T) 0;
    case B_LT: return a < b ? (T) 1 : (T) 0;
    case B_LE: return a <= b ? (T) 1 : (T) 0;
    case B_GT: return a > b ? (T) 1 : (T) 0;
    case B_GE: return a >= b ? (T) 1 : (T) 0;
    case B_LOGICAL_AND: return a != (T) 0 && b != (T) 0 ? (T) 1 : (T) 0;
    default: return a != (T) 0 || b != (T) 0 ? (T) 1 : (T) 0;  // B_LOGICAL_OR
  }
}

// Integer power by squaring, wrapping as Java's long arithmetic; a negative exponent gives 0
// (the CPU backend throws; a kernel cannot).
__device__ __forceinline__ i64 int_pow(i64 base, i64 e) {
  if (e < 0) return 0;
  i64 r = 1;
  while (e > 0) {
    if (e & 1) r = (i64) ((u64) r * (u64) base);
    base = (i64) ((u64) base * (u64) base);
    e >>= 1;
  }
  return r;
}

__device__ __forceinline__ i64 binary_long(int op, i64 a, i64 b) {
  switch (op) {
    case B_ADD: return (i64) ((u64) a + (u64) b);
    case B_SUB: return (i64) ((u64) a - (u64) b);
    case B_MUL: return (i64) ((u64) a * (u64) b);
    case B_DIV: return b == 0 ? 0 : a / b;  // never launched: DIV computes in a float family
    case B_POW: return int_pow(a, b);
    case B_MAXIMUM: return a > b ? a : b;
    case B_MINIMUM: return a < b ? a : b;
    case B_EQ: return a == b;
    case B_NE: return a != b;
    case B_LT: return a < b;
    case B_LE: return a <= b;
    case B_GT: return a > b;
    case B_GE: return a >= b;
    case B_LOGICAL_AND: return a != 0 && b != 0;
    default: return a != 0 || b != 0;
  }
}

template <typename T>
__device__ __forceinline__ T unary_op(int op, T x) { return unary_real(op, x); }
template <>
__device__ __forceinline__ i64 unary_op<i64>(int op, i64 x) { return unary_long(op, x); }
template <typename T>
__device__ __forceinline__ T binary_op(int op, T a, T b) { return binary_real(op, a, b); }
template <>
__device__ __forceinline__ i64 binary_op<i64>(int op, i64 a, i64 b) { return binary_long(op, a, b); }

struct FillArgs { Shape shape; Operand out; double value; i64 longValue; };
struct UnaryArgs { i64 op; Shape shape; Operand out; Operand x; };
struct BinaryArgs { i64 op; Shape shape; Operand out; Operand a; Operand b; };
// scalarFirst: op(scalar, a) instead of op(a, scalar); longScalar is the scalar for the i64 family.
struct ScalarArgs { i64 op; i64 scalarFirst; double scalar; i64 longScalar; Shape shape; Operand out; Operand a; };
struct WhereArgs { Shape shape; Operand out; Operand cond; Operand a; Operand b; };

template <typename T> __device__ __forceinline__ T pick_scalar(double d, i64 l) { return (T) d; }
template <> __device__ __forceinline__ i64 pick_scalar<i64>(double d, i64 l) { return l; }

template <typename T>
__device__ void fill_body(const FillArgs& a) {
  T v = pick_scalar<T>(a.value, a.longValue);
  EMBER_FOR(i, a.shape.numel) { store_as<T>(a.out, element_offset(a.shape, a.out, i), v); }
}

template <typename T>
__device__ void unary_body(const UnaryArgs& a) {
  int op = (int) a.op;
  EMBER_FOR(i, a.shape.numel) {
    T x = load_as<T>(a.x, element_offset(a.shape, a.x, i));
    store_as<T>(a.out, element_offset(a.shape, a.out, i), unary_op<T>(op, x));
  }
}

template <typename T>
__device__ void binary_body(const BinaryArgs& a) {
  int op = (int) a.op;
  EMBER_FOR(i, a.shape.numel) {
    T x = load_as<T>(a.a, element_offset(a.shape, a.a, i));
    T y = load_as<T>(a.b, element_offset(a.shape, a.b, i));
    store_as<T>(a.out, element_offset(a.shape, a.out, i), binary_op<T>(op, x, y));
  }
}

template <typename T>
__device__ void scalar_body(const ScalarArgs& a) {
  int op = (int) a.op;
  T s = pick_scalar<T>(a.scalar, a.longScalar);
  EMBER_FOR(i, a.shape.numel) {
    T x = load_as<T>(a.a, element_offset(a.shape, a.a, i));
    T r = a.scalarFirst ? binary_op<T>(op, s, x) : binary_op<T>(op, x, s);
    store_as<T>(a.out, element_offset(a.shape, a.out, i), r);
  }
}

template <typename T>
__device__ void where_body(const WhereArgs& a) {
  EMBER_FOR(i, a.shape.numel) {
    // cond is read as a truth value in its own dtype (0.5 is true), as the CPU's != 0 test
    double c = load_as<double>(a.cond, element_offset(a.shape, a.cond, i));
    const Operand& src = c != 0.0 ? a.a : a.b;
    T v = load_as<T>(src, element_offset(a.shape, src, i));
    store_as<T>(a.out, element_offset(a.shape, a.out, i), v);
  }
}

// The common case: every operand dense and of the compute dtype T, raw pointers, no dtype switch.
struct DenseUnaryArgs { i64 op; i64 n; i64 out; i64 x; };
struct DenseBinaryArgs { i64 op; i64 n; i64 out; i64 a; i64 b; };

template <typename T>
__device__ void dense_unary_body(const DenseUnaryArgs& a) {
  int op = (int) a.op;
  const T* x = (const T*) a.x;
  T* o = (T*) a.out;
  EMBER_FOR(i, a.n) { o[i] = unary_op<T>(op, x[i]); }
}

template <typename T>
__device__ void dense_binary_body(const DenseBinaryArgs& a) {
  int op = (int) a.op;
  const T* x = (const T*) a.a;
  const T* y = (const T*) a.b;
  T* o = (T*) a.out;
  EMBER_FOR(i, a.n) { o[i] = binary_op<T>(op, x[i], y[i]); }
}

#define EMBER_FAMILIES(X) X(f32, float) X(f64, double) X(i64, i64)
#define EMBER_KERNELS(sfx, T)                                                                  \
  EMBER_KERNEL(ember_fill_##sfx, FillArgs) { fill_body<T>(a); }         \
  EMBER_KERNEL(ember_unary_##sfx, UnaryArgs) { unary_body<T>(a); }      \
  EMBER_KERNEL(ember_binary_##sfx, BinaryArgs) { binary_body<T>(a); }   \
  EMBER_KERNEL(ember_scalar_##sfx, ScalarArgs) { scalar_body<T>(a); }   \
  EMBER_KERNEL(ember_where_##sfx, WhereArgs) { where_body<T>(a); }      \
  EMBER_KERNEL(ember_dense_unary_##sfx, DenseUnaryArgs) {                \
    dense_unary_body<T>(a);                                                                  \
  }                                                                                          \
  EMBER_KERNEL(ember_dense_binary_##sfx, DenseBinaryArgs) {              \
    dense_binary_body<T>(a);                                                                 \
  }
EMBER_FAMILIES(EMBER_KERNELS)
