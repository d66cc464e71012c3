// Convolution and pooling kernels over contiguous (N, C, H, W) data, float32 and float64: im2col
// (one sample or a batch, Backend.im2colBatch's layout), col2im, max and average pooling and
// their backward passes. The adjoints (col2im, avg- and max-pool backward) gather per input
// element, so they need no atomics and give the same sum order on every run.
#include "ember_common.cuh"

struct ConvGeom {
  i64 channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW;
  i64 outH, outW;
};

// columns (C * kh * kw, n * L), L = outH * outW; input (n, C, H, W); pointers at element 0.
struct Im2colArgs { ConvGeom g; i64 n; i64 input; i64 columns; };

template <typename T>
__device__ void im2col_body(const Im2colArgs& a) {
  const ConvGeom& g = a.g;
  i64 l = g.outH * g.outW;
  i64 cols = a.n * l;
  i64 total = g.channels * g.kernelH * g.kernelW * cols;
  const T* in = (const T*) a.input;
  T* col = (T*) a.columns;
  EMBER_FOR(e, total) {
    i64 row = e / cols, c0 = e - row * cols;
    i64 s = c0 / l, p = c0 - s * l;
    i64 y = p / g.outW, x = p - y * g.outW;
    i64 kk = g.kernelH * g.kernelW;
    i64 c = row / kk, r = row - c * kk;
    i64 i = r / g.kernelW, j = r - i * g.kernelW;
    i64 yy = y * g.strideH - g.padH + i * g.dilationH;
    i64 xx = x * g.strideW - g.padW + j * g.dilationW;
    T v = (T) 0;
    if (yy >= 0 && yy < g.height && xx >= 0 && xx < g.width) {
      v = in[((s * g.channels + c) * g.height + yy) * g.width + xx];
    }
    col[e] = v;
  }
}

// image (C, H, W) = the sum of every column entry that im2col took from each pixel.
template <typename T>
__device__ void col2im_body(const Im2colArgs& a) {
  const ConvGeom& g = a.g;
  i64 l = g.outH * g.outW;
  i64 total = g.channels * g.height * g.width;
  const T* col = (const T*) a.columns;
  T* img = (T*) a.input;
  EMBER_FOR(e, total) {
    i64 c = e / (g.height * g.width), rem = e - c * g.height * g.width;
    i64 yy = rem / g.width, xx = rem - yy * g.width;
    T sum = (T) 0;
    for (i64 i = 0; i < g.kernelH; i++) {
      i64 ny = yy + g.padH - i * g.dilationH;
      if (ny < 0 || ny % g.strideH != 0) continue;
      i64 y = ny / g.strideH;
      if (y >= g.outH) continue;
      for (i64 j = 0; j < g.kernelW; j++) {
        i64 nx = xx + g.padW - j * g.dilationW;
        if (nx < 0 || nx % g.strideW != 0) continue;
        i64 x = nx / g.strideW;
        if (x >= g.outW) continue;
        i64 row = (c * g.kernelH + i) * g.kernelW + j;
        sum += col[row * l + y * g.outW + x];
      }
    }
    img[e] += sum;
  }
}

struct PoolGeom { i64 height, width, kernelH, kernelW, strideH, strideW, padH, padW, outH, outW; };
struct PoolArgs { PoolGeom g; i64 planes; i64 input; i64 out; i64 indices; };

// The CPU's rule: start from the window's first in-bounds pixel, take v > best or any NaN (so the
// window's last NaN wins, as PyTorch).
template <typename T>
__device__ void max_pool_body(const PoolArgs& a) {
  const PoolGeom& g = a.g;
  i64 po = g.outH * g.outW;
  const T* in = (const T*) a.input;
  T* out = (T*) a.out;
  i64* idx = (i64*) a.indices;
  EMBER_FOR(e, a.planes * po) {
    i64 p = e / po, r = e - p * po;
    i64 y = r / g.outW, x = r - y * g.outW;
    i64 hs = y * g.strideH - g.padH, ws = x * g.strideW - g.padW;
    i64 y0 = hs > 0 ? hs : 0, x0 = ws > 0 ? ws : 0;
    i64 y1 = hs + g.kernelH < g.height ? hs + g.kernelH : g.height;
    i64 x1 = ws + g.kernelW < g.width ? ws + g.kernelW : g.width;
    const T* plane = in + p * g.height * g.width;
    i64 best_i = y0 * g.width + x0;
    T best = plane[best_i];
    for (i64 yy = y0; yy < y1; yy++) {
      for (i64 xx = x0; xx < x1; xx++) {
        i64 k = yy * g.width + xx;
        T v = plane[k];
        if (v > best || v != v) {
          best = v;
          best_i = k;
        }
      }
    }
    out[e] = best;
    idx[e] = best_i;
  }
}

// The windows [y0, y1] x [x0, x1] that cover pixel r of an input plane: the windows y with
// y * sh - ph <= yy < y * sh - ph + kh (likewise x), clipped to the output.
__device__ inline void covering_windows(
    const PoolGeom& g, i64 r, i64* y0, i64* y1, i64* x0, i64* x1) {
  i64 yy = r / g.width, xx = r - yy * g.width;
  i64 ylo = yy + g.padH - g.kernelH + 1, yhi = yy + g.padH;
  i64 xlo = xx + g.padW - g.kernelW + 1, xhi = xx + g.padW;
  *y0 = ylo <= 0 ? 0 : (ylo + g.strideH - 1) / g.strideH;
  *x0 = xlo <= 0 ? 0 : (xlo + g.strideW - 1) / g.strideW;
  *y1 = yhi / g.strideH < g.outH - 1 ? yhi / g.strideH : g.outH - 1;
  *x1 = xhi / g.strideW < g.outW - 1 ? xhi / g.strideW : g.outW - 1;
}

// Each input pixel gathers, onto its current value, gradOut over the windows that cover it and
// chose it, in window order (y, then x): the CPU's additions in the CPU's order, with no atomics,
// so overlapping windows sum to the same bits on every run.
template <typename T>
__device__ void max_pool_backward_body(const PoolArgs& a) {
  const PoolGeom& g = a.g;
  i64 pi = g.height * g.width;
  const T* gout = (const T*) a.out;
  const i64* idx = (const i64*) a.indices;
  T* gin = (T*) a.input;
  EMBER_FOR(e, a.planes * pi) {
    i64 p = e / pi, r = e - p * pi;
    i64 y0, y1, x0, x1;
    covering_windows(g, r, &y0, &y1, &x0, &x1);
    T acc = gin[e];
    for (i64 y = y0; y <= y1; y++) {
      for (i64 x = x0; x <= x1; x++) {
        i64 o = (p * g.outH + y) * g.outW + x;
        if (idx[o] == r) acc += gout[o];
      }
    }
    gin[e] = acc;
  }
}

// Padding counts in the divisor (count_include_pad=true); the sum runs in double.
template <typename T>
__device__ void avg_pool_body(const PoolArgs& a) {
  const PoolGeom& g = a.g;
  i64 po = g.outH * g.outW;
  const T* in = (const T*) a.input;
  T* out = (T*) a.out;
  double scale = 1.0 / (double) (g.kernelH * g.kernelW);
  EMBER_FOR(e, a.planes * po) {
    i64 p = e / po, r = e - p * po;
    i64 y = r / g.outW, x = r - y * g.outW;
    i64 hs = y * g.strideH - g.padH, ws = x * g.strideW - g.padW;
    const T* plane = in + p * g.height * g.width;
    double sum = 0;
    for (i64 yy = hs > 0 ? hs : 0; yy < hs + g.kernelH && yy < g.height; yy++) {
      for (i64 xx = ws > 0 ? ws : 0; xx < ws + g.kernelW && xx < g.width; xx++) {
        sum += (double) plane[yy * g.width + xx];
      }
    }
    out[e] = (T) (sum * scale);
  }
}

// Each input pixel gathers scale * gradOut over the windows that cover it.
template <typename T>
__device__ void avg_pool_backward_body(const PoolArgs& a) {
  const PoolGeom& g = a.g;
  i64 pi = g.height * g.width;
  const T* gout = (const T*) a.out;
  T* gin = (T*) a.input;
  double scale = 1.0 / (double) (g.kernelH * g.kernelW);
  EMBER_FOR(e, a.planes * pi) {
    i64 p = e / pi, r = e - p * pi;
    i64 y0, y1, x0, x1;
    covering_windows(g, r, &y0, &y1, &x0, &x1);
    double sum = 0;
    for (i64 y = y0; y <= y1; y++) {
      for (i64 x = x0; x <= x1; x++) {
        sum += (double) gout[(p * g.outH + y) * g.outW + x];
      }
    }
    gin[e] = (T) (sum * scale);
  }
}

#define EMBER_CONV_KERNELS(sfx, T)                                                             \
  EMBER_KERNEL(ember_im2col_##sfx, Im2colArgs) { im2col_body<T>(a); }    \
  EMBER_KERNEL(ember_col2im_##sfx, Im2colArgs) { col2im_body<T>(a); }    \
  EMBER_KERNEL(ember_max_pool_##sfx, PoolArgs) { max_pool_body<T>(a); }  \
  EMBER_KERNEL(ember_max_pool_backward_##sfx, PoolArgs) {                \
    max_pool_backward_body<T>(a);                                                            \
  }                                                                                          \
  EMBER_KERNEL(ember_avg_pool_##sfx, PoolArgs) { avg_pool_body<T>(a); }  \
  EMBER_KERNEL(ember_avg_pool_backward_##sfx, PoolArgs) {                \
    avg_pool_backward_body<T>(a);                                                            \
  }
#define EMBER_FAMILIES(X) X(f32, float) X(f64, double)
EMBER_FAMILIES(EMBER_CONV_KERNELS)
