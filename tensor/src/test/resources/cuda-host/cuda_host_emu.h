// Host emulation of the CUDA C that Ember's kernels use, for the test suite's emulated device
// (fake_driver.cpp): the kernels compile as plain C++ (g++ -include cuda_host_emu.h) and run on
// the launching thread, one fiber per CUDA thread of a block, blocks one after another.
// __shared__ arrays become function statics (shared by the block's threads; blocks run in turn)
// and __syncthreads() a yield to the next fiber (a barrier of the block's threads).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>

using std::erf;
using std::exp;
using std::fabs;
using std::fmax;
using std::log;
using std::log1p;
using std::pow;
using std::signbit;
using std::sqrt;
using std::tanh;

struct EmberDim3 {
  unsigned x, y, z;
};
extern thread_local EmberDim3 threadIdx;
extern EmberDim3 blockIdx, blockDim, gridDim;
void ember_emu_syncthreads();
extern std::mutex ember_emu_atomic;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __shared__ static
#define __syncthreads() ember_emu_syncthreads()

static inline double __longlong_as_double(long long x) {
  double d;
  std::memcpy(&d, &x, 8);
  return d;
}
static inline long long __double_as_longlong(double d) {
  long long x;
  std::memcpy(&x, &d, 8);
  return x;
}
template <typename T>
static inline T atomicAdd(T* p, T v) {
  std::lock_guard<std::mutex> g(ember_emu_atomic);
  T old = *p;
  *p = old + v;
  return old;
}
#define __align__(n) __attribute__((aligned(n)))
