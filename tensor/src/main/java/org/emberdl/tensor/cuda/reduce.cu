// Reductions over the trailing dims (Backend.reduce): one block per output row, the row's
// elements read through x's strides, combined in shared memory. Floating inputs accumulate in
// double and integer ones in int64, as the CPU backend's CpuReduceKernels does; NaN propagates
// through max/min/argmax/argmin, and argmax/argmin give the first index of the extreme.
#include "ember_common.cuh"

// ReduceOp's ordinals (org.emberdl.tensor.ops.ReduceOp): KernelSourcesTest checks the order.
enum EmberReduceOp { R_SUM, R_PROD, R_MAX, R_MIN, R_ARGMAX, R_ARGMIN, R_ALL, R_ANY };

#define REDUCE_THREADS 256

struct ReduceArgs {
  i64 op;
  i64 rows;
  i64 inner;
  Shape xShape;  // x's full shape: the leading (kept) dims, then the reduced ones
  Operand x;
  Shape outShape;
  Operand out;
};

template <typename A>
struct Acc {
  A v;
  i64 idx;  // -1: nothing seen yet
};

template <typename A> __device__ __forceinline__ bool is_nan(A v) { return v != v; }
template <> __device__ __forceinline__ bool is_nan<i64>(i64 v) { return false; }

// The empty max and min, as the CPU's accumulators start: -inf/+inf, or Long.MIN/MAX_VALUE.
template <typename A> __device__ __forceinline__ A lowest() { return -EMBER_INF; }
template <> __device__ __forceinline__ i64 lowest<i64>() { return (i64) 0x8000000000000000ULL; }
template <typename A> __device__ __forceinline__ A highest() { return EMBER_INF; }
template <> __device__ __forceinline__ i64 highest<i64>() { return 0x7fffffffffffffffLL; }

template <typename A>
__device__ __forceinline__ Acc<A> init(int op) {
  Acc<A> a;
  a.idx = -1;
  switch (op) {
    case R_SUM: case R_ANY: a.v = (A) 0; break;
    case R_PROD: case R_ALL: a.v = (A) 1; break;
    default: a.v = (A) 0; break;  // extremes: idx < 0 marks "none"
  }
  return a;
}

// Adds element `v` at index `j` (a thread sees its indices in increasing order).
template <typename A>
__device__ __forceinline__ void add(int op, Acc<A>& a, A v, i64 j) {
  switch (op) {
    case R_SUM: a.v += v; break;
    case R_PROD: a.v *= v; break;
    case R_ALL: a.v = (a.v != (A) 0 && v != (A) 0) ? (A) 1 : (A) 0; break;
    case R_ANY: a.v = (a.v != (A) 0 || v != (A) 0) ? (A) 1 : (A) 0; break;
    default: {
      bool max = op == R_MAX || op == R_ARGMAX;
      if (a.idx >= 0 && is_nan(a.v)) return;
      if (a.idx < 0 || is_nan(v) || (max ? v > a.v : v < a.v)) {
        a.v = v;
        a.idx = j;
      }
    }
  }
}

// Combines two partial results; for extremes, NaN first, then the value, ties to the lower index.
template <typename A>
__device__ __forceinline__ Acc<A> combine(int op, Acc<A> a, Acc<A> b) {
  switch (op) {
    case R_SUM: a.v += b.v; return a;
    case R_PROD: a.v *= b.v; return a;
    case R_ALL: a.v = (a.v != (A) 0 && b.v != (A) 0) ? (A) 1 : (A) 0; return a;
    case R_ANY: a.v = (a.v != (A) 0 || b.v != (A) 0) ? (A) 1 : (A) 0; return a;
    default: {
      if (b.idx < 0) return a;
      if (a.idx < 0) return b;
      bool an = is_nan(a.v), bn = is_nan(b.v);
      if (an || bn) return an && bn ? (a.idx < b.idx ? a : b) : (an ? a : b);
      bool max = op == R_MAX || op == R_ARGMAX;
      if (a.v == b.v) return a.idx < b.idx ? a : b;
      return (max ? b.v > a.v : b.v < a.v) ? b : a;
    }
  }
}

template <typename A>
__device__ void reduce_body(const ReduceArgs& r) {
  __shared__ A sv[REDUCE_THREADS];
  __shared__ i64 si[REDUCE_THREADS];
  int op = (int) r.op;
  for (i64 row = blockIdx.x; row < r.rows; row += gridDim.x) {
    Acc<A> acc = init<A>(op);
    for (i64 j = threadIdx.x; j < r.inner; j += blockDim.x) {
      A v = load_as<A>(r.x, element_offset(r.xShape, r.x, row * r.inner + j));
      add(op, acc, v, j);
    }
    sv[threadIdx.x] = acc.v;
    si[threadIdx.x] = acc.idx;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) {
        Acc<A> a = {sv[threadIdx.x], si[threadIdx.x]};
        Acc<A> b = {sv[threadIdx.x + s], si[threadIdx.x + s]};
        Acc<A> c = combine(op, a, b);
        sv[threadIdx.x] = c.v;
        si[threadIdx.x] = c.idx;
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      i64 o = element_offset(r.outShape, r.out, row);
      A v = sv[0];
      i64 idx = si[0];
      switch (op) {
        case R_ARGMAX: case R_ARGMIN: store_as<i64>(r.out, o, idx < 0 ? 0 : idx); break;
        case R_MAX: store_as<A>(r.out, o, idx < 0 ? lowest<A>() : v); break;
        case R_MIN: store_as<A>(r.out, o, idx < 0 ? highest<A>() : v); break;
        default: store_as<A>(r.out, o, v); break;
      }
    }
    __syncthreads();
  }
}

EMBER_KERNEL(ember_reduce_f64, ReduceArgs) { reduce_body<double>(a); }
EMBER_KERNEL(ember_reduce_i64, ReduceArgs) { reduce_body<i64>(a); }
