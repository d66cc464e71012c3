// Row kernels over contiguous rows of `cols` elements: softmax, layer norm and their backward
// passes, and GELU's backward. One block per row; the row's max and sums are block reductions in
// double (the CPU backend sums in double).
#include "ember_common.cuh"

#define ROW_THREADS 256

struct SoftmaxArgs { i64 rows; i64 cols; double scale; i64 x; i64 y; };
struct SoftmaxBackwardArgs { i64 rows; i64 cols; double scale; i64 grad; i64 y; i64 dx; };

// Block-wide sum (or max) of one double per thread; every thread gets the result.
__device__ double block_reduce(double v, bool max) {
  __shared__ double s[ROW_THREADS];
  s[threadIdx.x] = v;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k >>= 1) {
    if (threadIdx.x < k) {
      double a = s[threadIdx.x], b = s[threadIdx.x + k];
      s[threadIdx.x] = max ? (a != a || b != b ? a + b : fmax(a, b)) : a + b;
    }
    __syncthreads();
  }
  double r = s[0];
  __syncthreads();
  return r;
}

template <typename T>
__device__ void softmax_body(const SoftmaxArgs& a) {
  for (i64 row = blockIdx.x; row < a.rows; row += gridDim.x) {
    const T* x = (const T*) a.x + row * a.cols;
    T* y = (T*) a.y + row * a.cols;
    T s = (T) a.scale;
    double m = -EMBER_INF;
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      double v = (double) (x[i] * s);
      m = v != v || m != m ? v + m : fmax(m, v);
    }
    m = block_reduce(m, true);
    double sum = 0;
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      T e = (T) exp((double) (x[i] * s) - m);
      y[i] = e;
      sum += (double) e;
    }
    sum = block_reduce(sum, false);
    T inv = (T) (1 / sum);
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      y[i] = y[i] * inv;
    }
  }
}

template <typename T>
__device__ void softmax_backward_body(const SoftmaxBackwardArgs& a) {
  for (i64 row = blockIdx.x; row < a.rows; row += gridDim.x) {
    const T* g = (const T*) a.grad + row * a.cols;
    const T* y = (const T*) a.y + row * a.cols;
    T* dx = (T*) a.dx + row * a.cols;
    double dot = 0;
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      dot += (double) g[i] * (double) y[i];
    }
    dot = block_reduce(dot, false);
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      dx[i] = (T) (a.scale * (double) y[i] * ((double) g[i] - dot));
    }
  }
}

// Layer norm (CpuRowKernels.layerNorm): mean, then the centred sum of squares (no cancellation),
// y = (x - mean) * rstd * w + b; weight and bias are 0 when absent.
struct LayerNormArgs { i64 rows, cols; double eps; i64 x, weight, bias, y, mean, rstd; };

template <typename T>
__device__ void layer_norm_body(const LayerNormArgs& a) {
  for (i64 row = blockIdx.x; row < a.rows; row += gridDim.x) {
    const T* x = (const T*) a.x + row * a.cols;
    T* y = (T*) a.y + row * a.cols;
    double s = 0;
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) s += (double) x[i];
    double mu = block_reduce(s, false) / (double) a.cols;
    double ss = 0;
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      double d = (double) x[i] - mu;
      ss += d * d;
    }
    double inv = 1 / sqrt(block_reduce(ss, false) / (double) a.cols + a.eps);
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      double v = ((double) x[i] - mu) * inv;
      if (a.weight != 0) v = v * (double) ((const T*) a.weight)[i];
      if (a.bias != 0) v += (double) ((const T*) a.bias)[i];
      y[i] = (T) v;
    }
    if (threadIdx.x == 0) {
      ((T*) a.mean)[row] = (T) mu;
      ((T*) a.rstd)[row] = (T) inv;
    }
  }
}

// dx per row (CpuRowKernels.layerNormBackward): xh = (x - mean) * rstd, gh = grad * w,
// dx = rstd * (gh - mean(gh) - xh * mean(gh * xh)).
struct LayerNormBackwardArgs { i64 rows, cols; i64 grad, x, mean, rstd, weight, dx; };

template <typename T>
__device__ void layer_norm_backward_body(const LayerNormBackwardArgs& a) {
  for (i64 row = blockIdx.x; row < a.rows; row += gridDim.x) {
    const T* g = (const T*) a.grad + row * a.cols;
    const T* x = (const T*) a.x + row * a.cols;
    T* dx = (T*) a.dx + row * a.cols;
    double mu = (double) ((const T*) a.mean)[row];
    double inv = (double) ((const T*) a.rstd)[row];
    double sg = 0, sgx = 0;
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      double gh = (double) g[i] * (a.weight != 0 ? (double) ((const T*) a.weight)[i] : 1.0);
      double xh = ((double) x[i] - mu) * inv;
      sg += gh;
      sgx += gh * xh;
    }
    double meanGh = block_reduce(sg, false) / (double) a.cols;
    double meanGhXh = block_reduce(sgx, false) / (double) a.cols;
    for (i64 i = threadIdx.x; i < a.cols; i += blockDim.x) {
      double gh = (double) g[i] * (a.weight != 0 ? (double) ((const T*) a.weight)[i] : 1.0);
      double xh = ((double) x[i] - mu) * inv;
      dx[i] = (T) (inv * (gh - meanGh - xh * meanGhXh));
    }
  }
}

// dweight[j] = sum over rows of grad * xh, dbias[j] = sum of grad: one thread per column, rows in
// order (deterministic); either output may be absent (0).
struct LayerNormParamsArgs { i64 rows, cols; i64 grad, x, mean, rstd, dweight, dbias; };

template <typename T>
__device__ void layer_norm_params_body(const LayerNormParamsArgs& a) {
  EMBER_FOR(j, a.cols) {
    double dw = 0, db = 0;
    for (i64 r = 0; r < a.rows; r++) {
      double g = (double) ((const T*) a.grad)[r * a.cols + j];
      double xh = ((double) ((const T*) a.x)[r * a.cols + j] - (double) ((const T*) a.mean)[r]) *
                  (double) ((const T*) a.rstd)[r];
      dw += g * xh;
      db += g;
    }
    if (a.dweight != 0) ((T*) a.dweight)[j] = (T) dw;
    if (a.dbias != 0) ((T*) a.dbias)[j] = (T) db;
  }
}

// Exact GELU's backward: grad * (Phi(x) + x phi(x)).
struct GeluBackwardArgs { i64 n; i64 grad, x, out; };

template <typename T>
__device__ void gelu_backward_body(const GeluBackwardArgs& a) {
  EMBER_FOR(i, a.n) {
    double v = (double) ((const T*) a.x)[i];
    double cdf = 0.5 * (1 + erf(v * 0.70710678118654752440));
    double pdf = 0.39894228040143267794 * exp(-0.5 * v * v);
    ((T*) a.out)[i] = (T) ((double) ((const T*) a.grad)[i] * (cdf + v * pdf));
  }
}

#define EMBER_ROW_KERNELS(sfx, T)                                                              \
  EMBER_KERNEL(ember_layer_norm_##sfx, LayerNormArgs) { layer_norm_body<T>(a); }               \
  EMBER_KERNEL(ember_layer_norm_backward_##sfx, LayerNormBackwardArgs) {                       \
    layer_norm_backward_body<T>(a);                                                            \
  }                                                                                            \
  EMBER_KERNEL(ember_layer_norm_params_##sfx, LayerNormParamsArgs) {                           \
    layer_norm_params_body<T>(a);                                                              \
  }                                                                                            \
  EMBER_KERNEL(ember_gelu_backward_##sfx, GeluBackwardArgs) { gelu_backward_body<T>(a); }
#define EMBER_FAMILIES(X) X(f32, float) X(f64, double)
EMBER_FAMILIES(EMBER_ROW_KERNELS)

EMBER_KERNEL(ember_softmax_f32, SoftmaxArgs) { softmax_body<float>(a); }
EMBER_KERNEL(ember_softmax_f64, SoftmaxArgs) { softmax_body<double>(a); }
EMBER_KERNEL(ember_softmax_backward_f32, SoftmaxBackwardArgs) {
  softmax_backward_body<float>(a);
}
EMBER_KERNEL(ember_softmax_backward_f64, SoftmaxBackwardArgs) {
  softmax_backward_body<double>(a);
}
