// The fused LSTM and GRU cell steps (Backend.lstmCell and siblings) with CpuRecurrentKernels'
// formulas, one thread per (row, hidden unit), computed in double for float32 and float64 arrays
// (all contiguous). Null optional arrays arrive as address 0.
#include "ember_common.cuh"

__device__ __forceinline__ double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }
__device__ __forceinline__ double tanh_d(double x) { return 1.0 - 2.0 / (exp(2 * x) + 1.0); }

template <typename T>
__device__ __forceinline__ double at(i64 p, i64 i) { return p == 0 ? 0.0 : (double) ((const T*) p)[i]; }
template <typename T>
__device__ __forceinline__ void put(i64 p, i64 i, double v) { ((T*) p)[i] = (T) v; }
__device__ __forceinline__ bool row_valid(i64 valid, i64 b) {
  return valid == 0 || ((const unsigned char*) valid)[b] != 0;
}

struct LstmArgs {
  i64 batch, h;
  i64 xGates, hGates, bIh, bHh, hPrev, cPrev, valid, gates, hNext, cNext, output;
};

template <typename T>
__device__ void lstm_body(const LstmArgs& a) {
  i64 h = a.h, g = 4 * h;
  EMBER_FOR(e, a.batch * h) {
    i64 b = e / h, k = e - b * h;
    double act[4];
    for (int q = 0; q < 4; q++) {
      i64 j = q * h + k;
      double pre = (at<T>(a.xGates, b * g + j) + at<T>(a.bIh, j)) +
                   (at<T>(a.hGates, b * g + j) + at<T>(a.bHh, j));
      act[q] = q == 2 ? tanh_d(pre) : sigmoid_d(pre);
      put<T>(a.gates, b * g + j, act[q]);
    }
    i64 o = b * h + k;
    if (!row_valid(a.valid, b)) {
      put<T>(a.hNext, o, at<T>(a.hPrev, o));
      put<T>(a.cNext, o, at<T>(a.cPrev, o));
      put<T>(a.output, o, 0.0);
      continue;
    }
    double cy = act[1] * at<T>(a.cPrev, o) + act[0] * act[2];
    double hy = act[3] * tanh_d(cy);
    put<T>(a.cNext, o, cy);
    put<T>(a.hNext, o, hy);
    put<T>(a.output, o, hy);
  }
}

struct LstmBackwardArgs {
  i64 batch, h;
  i64 gates, cPrev, valid, gradOutput, gradHRec, gradHCarry, gradC, gradGates;
};

template <typename T>
__device__ void lstm_backward_body(const LstmBackwardArgs& a) {
  i64 h = a.h, g = 4 * h;
  EMBER_FOR(e, a.batch * h) {
    i64 b = e / h, k = e - b * h, o = b * h + k;
    double dh = at<T>(a.gradHCarry, o);
    if (a.gradHRec != 0) dh += at<T>(a.gradHRec, o);
    if (!row_valid(a.valid, b)) {
      put<T>(a.gradHCarry, o, dh);
      for (int q = 0; q < 4; q++) put<T>(a.gradGates, b * g + q * h + k, 0.0);
      continue;
    }
    if (a.gradOutput != 0) dh += at<T>(a.gradOutput, o);
    double i = at<T>(a.gates, b * g + k), f = at<T>(a.gates, b * g + h + k);
    double gg = at<T>(a.gates, b * g + 2 * h + k), og = at<T>(a.gates, b * g + 3 * h + k);
    double c = at<T>(a.cPrev, o);
    double tc = tanh_d(f * c + i * gg);
    double dct = at<T>(a.gradC, o) + dh * og * (1 - tc * tc);
    put<T>(a.gradGates, b * g + k, dct * gg * i * (1 - i));
    put<T>(a.gradGates, b * g + h + k, dct * c * f * (1 - f));
    put<T>(a.gradGates, b * g + 2 * h + k, dct * i * (1 - gg * gg));
    put<T>(a.gradGates, b * g + 3 * h + k, dh * tc * og * (1 - og));
    put<T>(a.gradC, o, dct * f);
    put<T>(a.gradHCarry, o, 0.0);
  }
}

struct GruArgs {
  i64 batch, h;
  i64 xGates, hGates, bIh, bHh, hPrev, valid, gates, hnb, hNext, output;
};

template <typename T>
__device__ void gru_body(const GruArgs& a) {
  i64 h = a.h, g = 3 * h;
  EMBER_FOR(e, a.batch * h) {
    i64 b = e / h, k = e - b * h, o = b * h + k, x = b * g;
    double rr = sigmoid_d((at<T>(a.hGates, x + k) + at<T>(a.bHh, k)) +
                          (at<T>(a.xGates, x + k) + at<T>(a.bIh, k)));
    double z = sigmoid_d((at<T>(a.hGates, x + h + k) + at<T>(a.bHh, h + k)) +
                         (at<T>(a.xGates, x + h + k) + at<T>(a.bIh, h + k)));
    double nh = at<T>(a.hGates, x + 2 * h + k) + at<T>(a.bHh, 2 * h + k);
    double n = tanh_d((at<T>(a.xGates, x + 2 * h + k) + at<T>(a.bIh, 2 * h + k)) + rr * nh);
    put<T>(a.gates, x + k, rr);
    put<T>(a.gates, x + h + k, z);
    put<T>(a.gates, x + 2 * h + k, n);
    put<T>(a.hnb, o, nh);
    if (!row_valid(a.valid, b)) {
      put<T>(a.hNext, o, at<T>(a.hPrev, o));
      put<T>(a.output, o, 0.0);
      continue;
    }
    double hy = (at<T>(a.hPrev, o) - n) * z + n;
    put<T>(a.hNext, o, hy);
    put<T>(a.output, o, hy);
  }
}

struct GruBackwardArgs {
  i64 batch, h;
  i64 gates, hnb, hPrev, valid, gradOutput, gradHRec, gradHCarry, gradXGates, gradHGates;
};

template <typename T>
__device__ void gru_backward_body(const GruBackwardArgs& a) {
  i64 h = a.h, g = 3 * h;
  EMBER_FOR(e, a.batch * h) {
    i64 b = e / h, k = e - b * h, o = b * h + k, x = b * g;
    double dh = at<T>(a.gradHCarry, o);
    if (a.gradHRec != 0) dh += at<T>(a.gradHRec, o);
    if (!row_valid(a.valid, b)) {
      put<T>(a.gradHCarry, o, dh);
      for (int q = 0; q < 3; q++) {
        put<T>(a.gradXGates, x + q * h + k, 0.0);
        put<T>(a.gradHGates, x + q * h + k, 0.0);
      }
      continue;
    }
    if (a.gradOutput != 0) dh += at<T>(a.gradOutput, o);
    double r = at<T>(a.gates, x + k), z = at<T>(a.gates, x + h + k);
    double n = at<T>(a.gates, x + 2 * h + k);
    double dn = dh * (1 - z);
    double dz = dh * (at<T>(a.hPrev, o) - n);
    double dnPre = dn * (1 - n * n);
    double drPre = dnPre * at<T>(a.hnb, o) * r * (1 - r);
    double dzPre = dz * z * (1 - z);
    put<T>(a.gradXGates, x + k, drPre);
    put<T>(a.gradXGates, x + h + k, dzPre);
    put<T>(a.gradXGates, x + 2 * h + k, dnPre);
    put<T>(a.gradHGates, x + k, drPre);
    put<T>(a.gradHGates, x + h + k, dzPre);
    put<T>(a.gradHGates, x + 2 * h + k, dnPre * r);
    put<T>(a.gradHCarry, o, dh * z);
  }
}

#define EMBER_RNN_KERNELS(sfx, T)                                                              \
  EMBER_KERNEL(ember_lstm_##sfx, LstmArgs) { lstm_body<T>(a); }                                \
  EMBER_KERNEL(ember_lstm_backward_##sfx, LstmBackwardArgs) { lstm_backward_body<T>(a); }      \
  EMBER_KERNEL(ember_gru_##sfx, GruArgs) { gru_body<T>(a); }                                   \
  EMBER_KERNEL(ember_gru_backward_##sfx, GruBackwardArgs) { gru_backward_body<T>(a); }
#define EMBER_FAMILIES(X) X(f32, float) X(f64, double)
EMBER_FAMILIES(EMBER_RNN_KERNELS)
