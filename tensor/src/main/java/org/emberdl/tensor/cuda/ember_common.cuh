// Shared by every Ember kernel: argument layout, strided index math, dtype loads and stores.
// Every argument struct holds only 8-byte fields, in order, so that the Java side
// (org.emberdl.tensor.cuda.KernelArgs) packs it as a plain sequence of longs and doubles.
#pragma once

typedef long long i64;
typedef unsigned long long u64;
typedef unsigned int u32;

#define EMBER_MAX_DIMS 8

// NVRTC has no <math.h> macros.
#define EMBER_INF __longlong_as_double(0x7ff0000000000000LL)

// DType's ordinals (org.emberdl.tensor.DType): KernelSourcesTest checks the order.
enum EmberDType { DT_BOOL = 0, DT_INT32 = 1, DT_INT64 = 2, DT_FLOAT32 = 3, DT_FLOAT64 = 4 };

// The iteration space: out's shape, numel, and whether every operand is dense row-major from its
// offset (then the linear index is the element index, with no division per dim).
struct Shape {
  i64 ndim;
  i64 numel;
  i64 dense;
  i64 dims[EMBER_MAX_DIMS];
};

// One array operand: device pointer of its storage, element offset, dtype and element strides
// (0 for a broadcast dim).
struct Operand {
  i64 ptr;
  i64 offset;
  i64 dtype;
  i64 strides[EMBER_MAX_DIMS];
};

__device__ __forceinline__ i64 element_offset(const Shape& s, const Operand& o, i64 linear) {
  if (s.dense) {
    return o.offset + linear;
  }
  i64 off = o.offset;
  for (int d = (int) s.ndim - 1; d >= 0; --d) {
    i64 dim = s.dims[d];
    i64 q = linear / dim;
    off += (linear - q * dim) * o.strides[d];
    linear = q;
  }
  return off;
}

// A kernel taking its argument struct as `a`. Compiled as host C++ (the test suite's emulated
// device, see src/test/resources/cuda-host), it is a plain function taking the packed struct's
// address, as cuLaunchKernel's kernelParams[0] gives it.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define EMBER_KERNEL(name, Args) extern "C" __global__ void name(const Args a)
#else
#define EMBER_KERNEL(name, Args)                                            \
  static void name##_body(const Args& a);                                   \
  extern "C" void name(const void* p) { name##_body(*(const Args*) p); } \
  static void name##_body(const Args& a)
#endif

// Grid-stride loop over [0, n).
#define EMBER_FOR(i, n) \
  for (i64 i = (i64) blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64) blockDim.x * gridDim.x)

// Loads element `off` of `o` converted to T, as the CPU backend's TileIO reads (bool is 0 or 1).
// Not inlined: inlined into a loop, the dtype switches of three operands were unswitched into
// dozens of loop copies (5 s of NVRTC per arch for elementwise.cu); a call costs little in a
// memory-bound loop, and the common case (dense, one dtype) has kernels of its own.
// Java's float-to-integer casts: NaN to 0, out-of-range values saturated. The GPU's conversions
// do the same, but C++ leaves both undefined (the emulated device, on x86, would give MIN_VALUE).
__device__ __forceinline__ i64 java_d2l(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return 0x7fffffffffffffffLL;
  if (v <= -9223372036854775808.0) return (i64) 0x8000000000000000ULL;
  return (i64) v;
}
__device__ __forceinline__ int java_d2i(double v) {
  if (v != v) return 0;
  if (v >= 2147483647.0) return 2147483647;
  if (v <= -2147483648.0) return (int) 0x80000000u;
  return (int) v;
}

// Converts a loaded value to the compute type T, floats to integers as Java does.
template <typename T, typename S>
__device__ __forceinline__ T convert(S v) { return (T) v; }
template <>
__device__ __forceinline__ i64 convert<i64, float>(float v) { return java_d2l((double) v); }
template <>
__device__ __forceinline__ i64 convert<i64, double>(double v) { return java_d2l(v); }

template <typename T>
__device__ __noinline__ T load_as(const Operand& o, i64 off) {
  switch (o.dtype) {
    case DT_BOOL: return (T) (((const unsigned char*) o.ptr)[off] != 0 ? 1 : 0);
    case DT_INT32: return (T) ((const int*) o.ptr)[off];
    case DT_INT64: return (T) ((const i64*) o.ptr)[off];
    case DT_FLOAT32: return convert<T, float>(((const float*) o.ptr)[off]);
    default: return convert<T, double>(((const double*) o.ptr)[off]);
  }
}

// Stores `v` into element `off` of `o` with the CPU backend's conversions: Java's narrowing casts
// (saturating float-to-int, NaN to 0; wrapping long-to-int), bool as v != 0.
template <typename T>
__device__ __noinline__ void store_as(const Operand& o, i64 off, T v) {
  switch (o.dtype) {
    case DT_BOOL: ((unsigned char*) o.ptr)[off] = v != (T) 0 ? 1 : 0; break;
    case DT_INT32: ((int*) o.ptr)[off] = (int) (i64) v; break;
    case DT_INT64: ((i64*) o.ptr)[off] = (i64) v; break;
    case DT_FLOAT32: ((float*) o.ptr)[off] = (float) v; break;
    default: ((double*) o.ptr)[off] = (double) v; break;
  }
}

// Float-to-int stores saturate as Java's (int) does; (int)(i64) of a float would wrap instead.
template <>
__device__ inline __noinline__ void store_as<float>(const Operand& o, i64 off, float v) {
  switch (o.dtype) {
    case DT_BOOL: ((unsigned char*) o.ptr)[off] = v != 0.0f ? 1 : 0; break;
    case DT_INT32: ((int*) o.ptr)[off] = java_d2i((double) v); break;
    case DT_INT64: ((i64*) o.ptr)[off] = java_d2l((double) v); break;
    case DT_FLOAT32: ((float*) o.ptr)[off] = v; break;
    default: ((double*) o.ptr)[off] = (double) v; break;
  }
}

template <>
__device__ inline __noinline__ void store_as<double>(const Operand& o, i64 off, double v) {
  switch (o.dtype) {
    case DT_BOOL: ((unsigned char*) o.ptr)[off] = v != 0.0 ? 1 : 0; break;
    case DT_INT32: ((int*) o.ptr)[off] = java_d2i(v); break;
    case DT_INT64: ((i64*) o.ptr)[off] = java_d2l(v); break;
    case DT_FLOAT32: ((float*) o.ptr)[off] = (float) v; break;
    default: ((double*) o.ptr)[off] = v; break;
  }
}
