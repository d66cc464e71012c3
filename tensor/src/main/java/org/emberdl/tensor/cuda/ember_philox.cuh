// Philox4x32-10 and the conversions of org.emberdl.tensor.random.Philox, operation for operation,
// so that a device fill gives the CPU generator's bits for the same (seed, stream, offset). Kernels
// including this must be compiled with --fmad=false (no contraction of a * b + c into one
// rounding, which Java never does). Compiles as host C++ too (PhiloxDeviceTest checks it against
// the Java class with g++).
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define EMBER_HD __host__ __device__ __forceinline__
#define EMBER_CLZLL(x) __clzll(x)
#define EMBER_BITS_TO_DOUBLE(x) __longlong_as_double(x)
#define EMBER_DOUBLE_TO_BITS(x) __double_as_longlong(x)
#define EMBER_UMULHI(a, b) __umul64hi(a, b)
#define EMBER_SQRT(x) sqrt(x)
#else
#include <cmath>
#include <cstring>
#define EMBER_HD static inline
static inline int EMBER_CLZLL(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long) x); }
static inline double EMBER_BITS_TO_DOUBLE(long long x) { double d; std::memcpy(&d, &x, 8); return d; }
static inline long long EMBER_DOUBLE_TO_BITS(double d) { long long x; std::memcpy(&x, &d, 8); return x; }
static inline unsigned long long EMBER_UMULHI(unsigned long long a, unsigned long long b) {
  return (unsigned long long) (((unsigned __int128) a * b) >> 64);
}
#define EMBER_SQRT(x) std::sqrt(x)
#endif

// Random123's multipliers and Weyl increments (Philox.java's M0, M1, W0, W1).
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_ROUNDS 10

struct PhiloxKey {
  unsigned int k0, k1, c2, c3;  // key = seed (low, high); counter words 2, 3 = stream (low, high)
};

EMBER_HD PhiloxKey philox_key(unsigned long long seed, unsigned long long stream) {
  PhiloxKey k;
  k.k0 = (unsigned int) seed;
  k.k1 = (unsigned int) (seed >> 32);
  k.c2 = (unsigned int) stream;
  k.c3 = (unsigned int) (stream >> 32);
  return k;
}

// Block `blk` of the sequence: the four output words.
EMBER_HD void philox_block(const PhiloxKey& key, unsigned long long blk, unsigned int out[4]) {
  unsigned int x0 = (unsigned int) blk, x1 = (unsigned int) (blk >> 32), x2 = key.c2, x3 = key.c3;
  unsigned int ka = key.k0, kb = key.k1;
  for (int r = 0; r < PHILOX_ROUNDS; r++) {
    unsigned long long p0 = (unsigned long long) PHILOX_M0 * x0;
    unsigned long long p1 = (unsigned long long) PHILOX_M1 * x2;
    x0 = (unsigned int) (p1 >> 32) ^ x1 ^ ka;
    x1 = (unsigned int) p1;
    x2 = (unsigned int) (p0 >> 32) ^ x3 ^ kb;
    x3 = (unsigned int) p0;
    ka += PHILOX_W0;
    kb += PHILOX_W1;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

// Word w of the sequence.
EMBER_HD unsigned int philox_word(const PhiloxKey& key, unsigned long long w) {
  unsigned int b[4];
  philox_block(key, w >> 2, b);
  return b[w & 3];
}

// Philox.java's uniform(float): 24 bits of word v; a result rounded up to high becomes `below`.
EMBER_HD float philox_uniform_f32(const PhiloxKey& key, unsigned long long v, float low, float scale,
                                  float high, float below) {
  float u = (float) (philox_word(key, v) >> 8) * 0x1.0p-24f;
  float r = low + scale * u;
  return r < high ? r : below;
}

EMBER_HD long long philox_bits53(unsigned int lo, unsigned int hi) {
  return (long long) ((((unsigned long long) hi << 32) | lo) >> 11);
}

// Philox.java's uniform(double): words 2v (low) and 2v + 1 (high), 53 bits.
EMBER_HD double philox_uniform_f64(const PhiloxKey& key, unsigned long long v, double low, double scale,
                                   double high, double below) {
  unsigned int b[4];
  philox_block(key, (2 * v) >> 2, b);
  int j = (int) ((2 * v) & 3);
  double r = low + scale * ((double) philox_bits53(b[j], b[j + 1]) * 0x1.0p-53);
  return r < high ? r : below;
}

#define EMBER_LN2_HI 6.93147180369123816490e-01
#define EMBER_LN2_LO 1.90821492927058770002e-10
#define EMBER_TWO_PI 6.283185307179586
#define EMBER_MAGIC_BITS 0x4338000000000000LL
#define EMBER_MAGIC 0x1.8p52

// Philox.logScaled: ln(n / 2^k) for 1 <= n <= 2^53.
EMBER_HD double philox_log_scaled(long long n, int k) {
  const long long sqrt2_mantissa = EMBER_DOUBLE_TO_BITS(1.4142135623730951) & 0x000FFFFFFFFFFFFFLL;
  int lz = EMBER_CLZLL(n);
  long long mantissa = (long long) ((((unsigned long long) n << lz) << 1) >> 12);
  long long halve = (long long) ((unsigned long long) (sqrt2_mantissa - mantissa) >> 63);
  int e = (int) (63 - lz + halve);
  double f = EMBER_BITS_TO_DOUBLE(mantissa | ((1023 - halve) << 52));
  double s = (f - 1) / (f + 1);
  double z = s * s;
  double z2 = z * z;
  double z4 = z2 * z2;
  double z8 = z4 * z4;
  double a = 1 + z * (1.0 / 3) + z2 * (1.0 / 5 + z * (1.0 / 7));
  double b = 1.0 / 9 + z * (1.0 / 11) + z2 * (1.0 / 13 + z * (1.0 / 15));
  double c = 1.0 / 17 + z * (1.0 / 19) + z2 * (1.0 / 21);
  double series = a + z4 * b + z8 * c;
  int ek = e - k;
  return ek * EMBER_LN2_HI + (ek * EMBER_LN2_LO + 2 * s * series);
}

EMBER_HD double philox_sin_poly(double x, double z) {
  double z2 = z * z;
  double z4 = z2 * z2;
  double a = -1.0 / 6 + z * (1.0 / 120);
  double b = -1.0 / 5040 + z * (1.0 / 362880);
  double c = -1.0 / 39916800 + z * (1.0 / 6227020800.0);
  double p = a + z2 * b + z4 * (c + z2 * (-1.0 / 1307674368000.0));
  return x + x * z * p;
}

EMBER_HD double philox_cos_poly(double z) {
  double z2 = z * z;
  double z4 = z2 * z2;
  double a = -1.0 / 2 + z * (1.0 / 24);
  double b = -1.0 / 720 + z * (1.0 / 40320);
  double c = -1.0 / 3628800 + z * (1.0 / 479001600);
  double d = -1.0 / 87178291200.0 + z * (1.0 / 20922789888000.0);
  double p = a + z2 * b + z4 * (c + z2 * d);
  return 1 + z * p;
}

// Philox.sinTurns / cosTurns: sin or cos of 2 pi m / 2^k, with the exact integer reduction.
EMBER_HD double philox_turns(long long m, int k, bool sine) {
  long long q = (long long) ((unsigned long long) (m + (1LL << (k - 3))) >> (k - 2));
  long long d = m - (q << (k - 2));
  double x = (EMBER_BITS_TO_DOUBLE(EMBER_MAGIC_BITS + d) - EMBER_MAGIC) * (EMBER_TWO_PI / (double) (1LL << k));
  int j = (int) q & 3;
  double qs = j == 1 ? 1.0 : (j == 3 ? -1.0 : 0.0);  // Philox.QUARTER_SIN[j]
  double qc = j == 0 ? 1.0 : (j == 2 ? -1.0 : 0.0);  // Philox.QUARTER_COS[j]
  double z = x * x;
  return sine ? philox_sin_poly(x, z) * qc + philox_cos_poly(z) * qs
              : philox_cos_poly(z) * qc - philox_sin_poly(x, z) * qs;
}

// Philox.java's normal(float): value v reads words 2p, 2p + 1 of its pair p = v / 2.
EMBER_HD float philox_normal_f32(const PhiloxKey& key, unsigned long long v, double mu, double sigma) {
  unsigned long long w = v & ~1ULL;
  unsigned int b[4];
  philox_block(key, w >> 2, b);
  int j = (int) (w & 3);
  long long n1 = (1LL << 32) - (long long) b[j];
  double r = sigma * EMBER_SQRT(-2 * philox_log_scaled(n1, 32));
  long long a = (long long) b[j + 1];
  return (float) (mu + r * philox_turns(a, 32, (v & 1) != 0));
}

// Philox.java's normal(double): values 2p and 2p + 1 read block p.
EMBER_HD double philox_normal_f64(const PhiloxKey& key, unsigned long long v, double mean, double std) {
  unsigned int b[4];
  philox_block(key, v >> 1, b);
  long long n1 = (1LL << 53) - philox_bits53(b[0], b[1]);
  double r = std * EMBER_SQRT(-2 * philox_log_scaled(n1, 53));
  long long a = philox_bits53(b[2], b[3]);
  return mean + r * philox_turns(a, 53, (v & 1) != 0);
}

// Philox.java's integers: Lemire's method on the 64-bit draw of words 2v, 2v + 1; rejected draws
// come from the retry blocks 2^63 | r << 55 | 2v. `threshold` is 2^64 mod s.
EMBER_HD long long philox_integer(const PhiloxKey& key, unsigned long long v, long long low,
                                  unsigned long long s, unsigned long long threshold) {
  unsigned long long w = 2 * v;
  unsigned int b[4];
  philox_block(key, w >> 2, b);
  int j = (int) (w & 3);
  unsigned long long x = ((unsigned long long) b[j + 1] << 32) | b[j];
  if (x * s < threshold) {
    for (int r = 1; r <= 255; r++) {
      philox_block(key, (1ULL << 63) | ((unsigned long long) r << 55) | w, b);
      bool done = false;
      for (int t = 0; t < 4; t += 2) {
        x = ((unsigned long long) b[t + 1] << 32) | b[t];
        if (x * s >= threshold) {
          done = true;
          break;
        }
      }
      if (done) break;
    }
  }
  return (long long) ((unsigned long long) low + EMBER_UMULHI(x, s));
}

// Philox.java's bernoulli: 1 when word v is below threshold = ceil(p * 2^32).
EMBER_HD float philox_bernoulli(const PhiloxKey& key, unsigned long long v, unsigned long long threshold) {
  return (unsigned long long) philox_word(key, v) < threshold ? 1.0f : 0.0f;
}
