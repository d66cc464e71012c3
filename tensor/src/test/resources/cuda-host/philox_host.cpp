// PhiloxDeviceTest's host driver for ember_philox.cuh (the device kernels' Philox, compiled here as
// plain C++ with g++ -ffp-contract=off): prints, per value of [offset, offset + n), the raw bits of
// uniform f32 in [-1, 2), uniform f64 in [-1, 2), normal f32 (0.5, 2), normal f64 (0.5, 2),
// integers in [-2^62, 2^62 + 1) (half of the draws rejected) and bernoulli(0.3).
#include "ember_philox.cuh"
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  unsigned long long seed = strtoull(argv[1], 0, 10), stream = strtoull(argv[2], 0, 10);
  long long off = atoll(argv[3]);
  int n = atoi(argv[4]);
  PhiloxKey k = philox_key(seed, stream);
  float belowF = 1.99999988f;  // Math.nextDown(2f)
  double belowD = 1.9999999999999998;  // Math.nextDown(2.0)
  unsigned long long s = (1ULL << 63) + 1, threshold = (0 - s) % s;
  unsigned long long bern = 1288490189ULL;  // ceil(0.3 * 2^32)
  for (int i = 0; i < n; i++) {
    unsigned long long v = off + i;
    float uf = philox_uniform_f32(k, v, -1.0f, 3.0f, 2.0f, belowF);
    double ud = philox_uniform_f64(k, v, -1.0, 3.0, 2.0, belowD);
    float nf = philox_normal_f32(k, v, 0.5, 2.0);
    double nd = philox_normal_f64(k, v, 0.5, 2.0);
    long long in = philox_integer(k, v, -(1LL << 62), s, threshold);
    float b = philox_bernoulli(k, v, bern);
    unsigned int ufb, nfb;
    unsigned long long udb, ndb;
    memcpy(&ufb, &uf, 4);
    memcpy(&nfb, &nf, 4);
    memcpy(&udb, &ud, 8);
    memcpy(&ndb, &nd, 8);
    printf("%u %llu %u %llu %lld %d\n", ufb, udb, nfb, ndb, in, (int) b);
  }
  return 0;
}
