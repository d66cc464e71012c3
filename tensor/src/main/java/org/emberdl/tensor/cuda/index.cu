// Indexing kernels: indexSelect and gather (data movement of 1, 4 or 8-byte elements) and
// scatterAdd (atomic adds into the target). An index out of bounds cannot throw on the device: the
// kernel records it in the backend's error word {flag, value} and the host, which reads the word
// after the launch, throws the CPU backend's IndexOutOfBoundsException.
#include "ember_common.cuh"

__device__ __forceinline__ void copy_element(i64 from, i64 to, i64 bytes) {
  switch (bytes) {
    case 8: *(i64*) to = *(const i64*) from; break;
    case 4: *(int*) to = *(const int*) from; break;
    default: *(unsigned char*) to = *(const unsigned char*) from; break;
  }
}

__device__ __forceinline__ bool in_bounds(i64 v, i64 size, i64 err) {
  if (v >= 0 && v < size) return true;
  ((i64*) err)[1] = v;  // any one bad value is enough for the message
  ((i64*) err)[0] = 1;
  return false;
}

// x (outer, size, inner) and out (outer, count, inner) contiguous; index 1-D with a stride.
struct IndexSelectArgs {
  i64 outer, size, count, inner, elemBytes, src, dst;
  Operand index;
  i64 err;
};

EMBER_KERNEL(ember_index_select, IndexSelectArgs) {
  i64 total = a.outer * a.count * a.inner;
  EMBER_FOR(e, total) {
    i64 r = e % a.inner, t = e / a.inner;
    i64 i = t % a.count, o = t / a.count;
    i64 v = load_as<i64>(a.index, a.index.offset + i * a.index.strides[0]);
    if (!in_bounds(v, a.size, a.err)) continue;
    copy_element(a.src + ((o * a.size + v) * a.inner + r) * a.elemBytes, a.dst + e * a.elemBytes,
                 a.elemBytes);
  }
}

// out[p] = x[p with dim replaced by index[p]] over index's shape; x's stride on dim is zeroed in
// its operand and given as dimStride.
struct GatherArgs {
  Shape shape;
  Operand x;
  Operand index;
  Operand out;
  i64 dimStride, dimSize, elemBytes, err;
};

EMBER_KERNEL(ember_gather, GatherArgs) {
  EMBER_FOR(e, a.shape.numel) {
    i64 v = load_as<i64>(a.index, element_offset(a.shape, a.index, e));
    if (!in_bounds(v, a.dimSize, a.err)) continue;
    i64 from = element_offset(a.shape, a.x, e) + v * a.dimStride;
    i64 to = element_offset(a.shape, a.out, e);
    copy_element(a.x.ptr + from * a.elemBytes, a.out.ptr + to * a.elemBytes, a.elemBytes);
  }
}

// target[p with dim replaced by index[p]] += src[p], as the CPU: floating targets add the source
// read as double (one float rounding, as atomicAdd's), integer targets in int64 arithmetic.
struct ScatterArgs {
  Shape shape;
  Operand target;
  Operand index;
  Operand src;
  i64 dimStride, dimSize, err;
};

EMBER_KERNEL(ember_scatter_add, ScatterArgs) {
  EMBER_FOR(e, a.shape.numel) {
    i64 v = load_as<i64>(a.index, element_offset(a.shape, a.index, e));
    if (!in_bounds(v, a.dimSize, a.err)) continue;
    i64 t = element_offset(a.shape, a.target, e) + v * a.dimStride;
    i64 s = element_offset(a.shape, a.src, e);
    switch (a.target.dtype) {
      case DT_FLOAT32: atomicAdd((float*) a.target.ptr + t, (float) load_as<double>(a.src, s)); break;
      case DT_FLOAT64: atomicAdd((double*) a.target.ptr + t, load_as<double>(a.src, s)); break;
      case DT_INT64:
        atomicAdd((unsigned long long*) a.target.ptr + t, (unsigned long long) load_as<i64>(a.src, s));
        break;
      case DT_INT32: atomicAdd((int*) a.target.ptr + t, (int) load_as<i64>(a.src, s)); break;
      default: {  // bool: t || s, as the CPU's (t + s) != 0 for 0/1 sources: a nonzero source
        // stores 1 (idempotent, so sources of one target may race), a zero one changes nothing
        if (load_as<i64>(a.src, s) != 0) ((unsigned char*) a.target.ptr)[t] = 1;
      }
    }
  }
}
