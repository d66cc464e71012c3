// Ember's own GEMM, for machines without cuBLAS: batched out[b] = A[b] @ B[b] with every operand
// addressed through strides (a transpose is a swap of strides, no copy). Batch b of each operand
// starts at b * batchStride from its pointer. float32: 128 x 128 output tiles in steps of 8 along
// k, each of 256 threads computing 8 x 8 outputs in registers (rows and columns split in two
// halves of 4, so a warp's shared-memory reads are conflict-free float4s); float64: 64 x 64 tiles,
// 4 x 4 per thread (the register budget of doubles).
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
    // row tiles beyond gridDim.y (65535) loop; the trip count is the block's, so every thread
    // reaches the same __syncthreads
    for (i64 by = blockIdx.y; by * TM < g.m; by += gridDim.y) {
    i64 row0 = by * TM, col0 = (i64) blockIdx.x * TN;
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
}

#define BM 128
#define BN 128
#define BK 8

__device__ void sgemm_body(const GemmArgs& g) {
  __shared__ __align__(16) float As[BK][BM];
  __shared__ __align__(16) float Bs[BK][BN];
  int tid = threadIdx.x;
  int tx = tid % 16, ty = tid / 16;
  for (i64 bz = blockIdx.z; bz < g.batch; bz += gridDim.z) {
    const float* A = (const float*) g.a + bz * g.aBatch;
    const float* B = (const float*) g.b + bz * g.bBatch;
    float* C = (float*) g.c + bz * g.cBatch;
    for (i64 by = blockIdx.y; by * BM < g.m; by += gridDim.y) {  // as in gemm_body
    i64 row0 = by * BM, col0 = (i64) blockIdx.x * BN;
    float acc[8][8];
    for (int i = 0; i < 8; i++)
      for (int j = 0; j < 8; j++) acc[i][j] = 0.0f;
    for (i64 k0 = 0; k0 < g.k; k0 += BK) {
      // 1024 elements of each tile, 4 per thread; consecutive threads read consecutive k of an A
      // row and consecutive columns of a B row (coalesced for row-major operands)
      for (int q = 0; q < 4; q++) {
        int e = tid + 256 * q;
        int r = e / BK, kk = e % BK;
        i64 gr = row0 + r, gk = k0 + kk;
        As[kk][r] = gr < g.m && gk < g.k ? A[gr * g.aRow + gk * g.aCol] : 0.0f;
        int kb = e / BN, c = e % BN;
        i64 gkb = k0 + kb, gc = col0 + c;
        Bs[kb][c] = gkb < g.k && gc < g.n ? B[gkb * g.bRow + gc * g.bCol] : 0.0f;
      }
      __syncthreads();
      for (int kk = 0; kk < BK; kk++) {
        float av[8], bv[8];
        for (int i = 0; i < 4; i++) {
          av[i] = As[kk][ty * 4 + i];
          av[4 + i] = As[kk][64 + ty * 4 + i];
          bv[i] = Bs[kk][tx * 4 + i];
          bv[4 + i] = Bs[kk][64 + tx * 4 + i];
        }
        for (int i = 0; i < 8; i++)
          for (int j = 0; j < 8; j++) acc[i][j] += av[i] * bv[j];
      }
      __syncthreads();
    }
    for (int i = 0; i < 8; i++) {
      i64 gr = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
      if (gr >= g.m) continue;
      for (int j = 0; j < 8; j++) {
        i64 gc = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
        if (gc < g.n) C[gr * g.cRow + gc * g.cCol] = acc[i][j];
      }
    }
    }
  }
}

EMBER_KERNEL(ember_gemm_f32, GemmArgs) { sgemm_body(a); }
EMBER_KERNEL(ember_gemm_f64, GemmArgs) { gemm_body<double>(a); }
