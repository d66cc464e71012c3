// Row kernels over contiguous rows of `cols` elements: softmax and its backward. One block per
// row; the row's max and sums are block reductions in double (the CPU backend sums in double).
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

EMBER_KERNEL(ember_softmax_f32, SoftmaxArgs) { softmax_body<float>(a); }
EMBER_KERNEL(ember_softmax_f64, SoftmaxArgs) { softmax_body<double>(a); }
EMBER_KERNEL(ember_softmax_backward_f32, SoftmaxBackwardArgs) {
  softmax_backward_body<float>(a);
}
EMBER_KERNEL(ember_softmax_backward_f64, SoftmaxBackwardArgs) {
  softmax_backward_body<double>(a);
}
