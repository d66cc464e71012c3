// nvrtc-options: --fmad=false
// Fused Adam/AdamW (Backend.adamUpdate) with CpuFusedKernels.adam's operations in its order, in
// float32 for float32 state (as torch does), and no contraction into fma: the same bits as the
// CPU for the same inputs. The host computes stepSize, bc2Sqrt, decay and l2 as the CPU does and
// passes them rounded to the state's dtype.
#include "ember_common.cuh"

struct AdamArgs {
  i64 n;
  i64 param;
  i64 grad;
  i64 m;
  i64 v;
  double stepSize;
  double bc2Sqrt;
  double decay;
  double l2;
  double oneMinusB1;
  double b2;
  double oneMinusB2;
  double eps;
};

template <typename T>
__device__ void adam_body(const AdamArgs& a) {
  T* p = (T*) a.param;
  const T* g = (const T*) a.grad;
  T* m = (T*) a.m;
  T* v = (T*) a.v;
  T stepSize = (T) a.stepSize, bc2Sqrt = (T) a.bc2Sqrt, decay = (T) a.decay, l2 = (T) a.l2;
  T oneMinusB1 = (T) a.oneMinusB1, b2 = (T) a.b2, oneMinusB2 = (T) a.oneMinusB2, eps = (T) a.eps;
  EMBER_FOR(i, a.n) {
    T gi = g[i] + l2 * p[i];
    T pi = p[i] * decay;
    T mi = m[i] + oneMinusB1 * (gi - m[i]);
    T vi = b2 * v[i] + oneMinusB2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - stepSize * mi / (sqrt(vi) / bc2Sqrt + eps);
  }
}

EMBER_KERNEL(ember_adam_f32, AdamArgs) { adam_body<float>(a); }
EMBER_KERNEL(ember_adam_f64, AdamArgs) { adam_body<double>(a); }
