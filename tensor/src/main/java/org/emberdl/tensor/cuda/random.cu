// nvrtc-options: --fmad=false
// Random fills with the CPU generator's bits: element i of a contiguous output takes the value at
// offset + i of Philox.java's sequence for (seed, stream). One kernel per kind and family, as the
// CPU backend's CpuRandomKernels picks: f32 for a float32 output, i64 for integers, f64 otherwise.
#include "ember_common.cuh"
#include "ember_philox.cuh"

// The kind's parameters, prepared on the host as CpuRandomKernels passes them: a and b as floats
// (f32) or doubles, the uniform scale and the value below high, Lemire's s and threshold, or the
// Bernoulli threshold.
struct RandomArgs {
  i64 seed;
  i64 stream;
  i64 offset;
  i64 n;
  Operand out;
  double a;
  double b;
  double scale;
  double below;
  i64 lowOrThreshold;
  i64 range;
  i64 lemireThreshold;
};

EMBER_KERNEL(ember_uniform_f32, RandomArgs) {
  PhiloxKey k = philox_key((u64) a.seed, (u64) a.stream);
  EMBER_FOR(i, a.n) {
    float v = philox_uniform_f32(k, (u64) (a.offset + i), (float) a.a, (float) a.scale, (float) a.b,
                                 (float) a.below);
    store_as<float>(a.out, a.out.offset + i, v);
  }
}

EMBER_KERNEL(ember_uniform_f64, RandomArgs) {
  PhiloxKey k = philox_key((u64) a.seed, (u64) a.stream);
  EMBER_FOR(i, a.n) {
    double v = philox_uniform_f64(k, (u64) (a.offset + i), a.a, a.scale, a.b, a.below);
    store_as<double>(a.out, a.out.offset + i, v);
  }
}

EMBER_KERNEL(ember_normal_f32, RandomArgs) {
  PhiloxKey k = philox_key((u64) a.seed, (u64) a.stream);
  EMBER_FOR(i, a.n) {
    store_as<float>(a.out, a.out.offset + i, philox_normal_f32(k, (u64) (a.offset + i), a.a, a.b));
  }
}

EMBER_KERNEL(ember_normal_f64, RandomArgs) {
  PhiloxKey k = philox_key((u64) a.seed, (u64) a.stream);
  EMBER_FOR(i, a.n) {
    store_as<double>(a.out, a.out.offset + i, philox_normal_f64(k, (u64) (a.offset + i), a.a, a.b));
  }
}

EMBER_KERNEL(ember_integers_i64, RandomArgs) {
  PhiloxKey k = philox_key((u64) a.seed, (u64) a.stream);
  EMBER_FOR(i, a.n) {
    i64 v = philox_integer(k, (u64) (a.offset + i), a.lowOrThreshold, (u64) a.range,
                           (u64) a.lemireThreshold);
    store_as<i64>(a.out, a.out.offset + i, v);
  }
}

// Bernoulli computes a float 0/1 (as the CPU does, also for a float64 or bool output).
EMBER_KERNEL(ember_bernoulli, RandomArgs) {
  PhiloxKey k = philox_key((u64) a.seed, (u64) a.stream);
  EMBER_FOR(i, a.n) {
    float v = philox_bernoulli(k, (u64) (a.offset + i), (u64) a.lowOrThreshold);
    store_as<float>(a.out, a.out.offset + i, v);
  }
}
