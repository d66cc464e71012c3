// Ember's own GEMM, for machines without cuBLAS: batched out[b] = A[b] @ B[b] with every operand
// addressed through strides (a transpose is a swap of strides, no copy), shared-memory tiling of
// 64 x 64 output tiles in steps of 16 along k, each of 256 threads computing a 4 x 4 block in
// registers. Batch b of each operand starts at b * batchStride from its pointer.
#include "ember_common.cuh"

#define TM 64
#define TN 64
#define TK 16

struct GemmArgs {
  i64 m, n, k, batch;
  i64 a, aBatch, aRow, aCol;
  i64 b, bBatch, bRow, bCol;
  i64 c, cBatch, cRow, cCol;
};

template <typename T>
__device__ void gemm_body(const GemmArgs& g) {
  __shared__ T As[TK][TM + 1];
  __shared__ T Bs[TK][TN + 1];
  int tid = threadIdx.x;
  int tr = tid / 16, tc = tid % 16;  // 16 x 16 threads, 4 x 4 outputs each
  for (i64 bz = blockIdx.z; bz < g.batch; bz += gridDim.z) {
    const T* A = (const T*) g.a + bz * g.aBatch;
    const T* B = (const T*) g.b + bz * g.bBatch;
    T* C = (T*) g.c + bz * g.cBatch;
    i64 row0 = (i64) blockIdx.y * TM, col0 = (i64) blockIdx.x * TN;
    T acc[4][4];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) acc[i][j] = (T) 0;
    for (i64 k0 = 0; k0 < g.k; k0 += TK) {
      for (int e = tid; e < TM * TK; e += 256) {
        int r = e / TK, kk = e % TK;
        i64 gr = row0 + r, gk = k0 + kk;
        As[kk][r] = gr < g.m && gk < g.k ? A[gr * g.aRow + gk * g.aCol] : (T) 0;
      }
      for (int e = tid; e < TK * TN; e += 256) {
        int kk = e / TN, c = e % TN;
        i64 gk = k0 + kk, gc = col0 + c;
        Bs[kk][c] = gk < g.k && gc < g.n ? B[gk * g.bRow + gc * g.bCol] : (T) 0;
      }
      __syncthreads();
      for (int kk = 0; kk < TK; kk++) {
        T av[4], bv[4];
        for (int i = 0; i < 4; i++) av[i] = As[kk][tr * 4 + i];
        for (int j = 0; j < 4; j++) bv[j] = Bs[kk][tc * 4 + j];
        for (int i = 0; i < 4; i++)
          for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
      }
      __syncthreads();
    }
    for (int i = 0; i < 4; i++) {
      i64 gr = row0 + tr * 4 + i;
      if (gr >= g.m) continue;
      for (int j = 0; j < 4; j++) {
        i64 gc = col0 + tc * 4 + j;
        if (gc < g.n) C[gr * g.cRow + gc * g.cCol] = acc[i][j];
      }
    }
  }
}

EMBER_KERNEL(ember_gemm_f32, GemmArgs) { gemm_body<float>(a); }
EMBER_KERNEL(ember_gemm_f64, GemmArgs) { gemm_body<double>(a); }
