package org.emberdl.tensor.random;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.util.Arrays;

/**
 * Decides when {@link Philox#normal(long, float[], int, int, float, float)} hands its whole pairs
 * to {@link VectorNormal}. Both paths give identical bits, so the choice affects speed only, never
 * values, and may change while a program runs.
 *
 * <p>On JDK 17 the Vector API pays only once C2 has compiled the kernel: interpreted or compiled by
 * C1 it costs microseconds per value, and reaching C2 costs about a second of CPU time (measured on
 * the 2-vCPU EPYC: ~1 s to fill the first ~500,000 values, against ~50 ms for the scalar code).
 * Weight initialisation and tests draw a few million values in all and would only lose. So the
 * vector path is off until this JVM has drawn {@link #THRESHOLD} float normal values with the
 * scalar code (DP-SGD's 235,146 noise values per step get there in about 70 steps); then a daemon
 * thread runs the kernel on scratch data until C2 has compiled it, checks its output against the
 * scalar code bit for bit, and only then switches it on. Callers never wait for it.
 *
 * <p>Never switched on when the {@code jdk.incubator.vector} module is absent (it needs {@code
 * --add-modules=jdk.incubator.vector}), when C2 is not in use ({@code -Xint}, {@code
 * -XX:TieredStopAtLevel} below 4), when the CPU lacks 256-bit vectors, or with {@code
 * -Demberdl.vectorNormal=false}. {@code -Demberdl.vectorNormal=true} skips the threshold (the
 * warm-up still runs first).
 */
final class VectorNormalSwitch {
  private VectorNormalSwitch() {}

  /** Float normal values drawn by the scalar path before the warm-up starts. */
  static final long THRESHOLD = 1L << 24;

  /** Fills of 256 values (one chunk) in the warm-up: C2 compiles the kernel after about 4,000. */
  private static final int WARMUP_CALLS = 12_000;

  private static final String PROPERTY = "emberdl.vectorNormal";

  private static final boolean POSSIBLE = possible();

  private static final boolean FORCE = "true".equals(System.getProperty(PROPERTY));

  private static volatile boolean enabled;

  /** Values drawn by the scalar path; updated without synchronisation, so only approximate. */
  private static long drawn;

  private static boolean started;

  /** Whether whole pairs go to {@link VectorNormal} now. */
  static boolean enabled() {
    return enabled;
  }

  /** Counts {@code n} values drawn by the scalar path, starting the warm-up at the threshold. */
  static void drewScalar(int n) {
    if (!POSSIBLE || started) {
      return;
    }
    long total = drawn += n;
    if (total >= THRESHOLD || FORCE) {
      startWarmup();
    }
  }

  /** Starts the warm-up now (see {@link Philox#expectManyNormals}). */
  static void expectMany() {
    if (POSSIBLE && !started) {
      startWarmup();
    }
  }

  private static synchronized void startWarmup() {
    if (started) {
      return;
    }
    started = true;
    Thread t = new Thread(VectorNormalSwitch::warmUp, "ember-vector-normal-warmup");
    t.setDaemon(true);
    t.setPriority(Thread.MIN_PRIORITY);
    t.start();
  }

  private static void warmUp() {
    try {
      if (!VectorNormal.supported()) {
        return;
      }
      Philox g = new Philox(0x5eed, 1);
      float[] got = new float[256];
      for (int i = 0; i < WARMUP_CALLS; i++) {
        g.normalFloat(256L * i, got, 0, got.length, 0.25f, 1.5f, true);
      }
      // The compiled kernel against the scalar code, at odd offsets and counts and across block
      // 2^32 (where the low counter word wraps), then on extreme words. Any difference (a JIT bug,
      // an unexpected lane order) keeps the scalar path.
      for (long offset : new long[] {0, 12_345, (1L << 34) - 1001}) {
        float[] vector = new float[2001];
        float[] scalar = new float[2001];
        g.normalFloat(offset, vector, 0, vector.length, 0.25f, 1.5f, true);
        g.normalFloat(offset, scalar, 0, scalar.length, 0.25f, 1.5f, false);
        if (!Arrays.equals(vector, scalar)) {
          return;
        }
      }
      if (checkEdges()) {
        enabled = true;
      }
    } catch (RuntimeException | LinkageError e) {
      // Leave the scalar path on.
    }
  }

  /** Extreme words (0, 1, 2^31, 2^32 - 1, quarter-turn boundaries) give the scalar bits too. */
  private static boolean checkEdges() {
    int[] edge = {0, 1, -1, Integer.MIN_VALUE, 0x20000000, 0x1FFFFFFF, 0x60000000, 0xA0000000};
    int[] words = new int[2 * edge.length * edge.length];
    for (int a = 0; a < edge.length; a++) {
      for (int b = 0; b < edge.length; b++) {
        words[2 * (a * edge.length + b)] = edge[a];
        words[2 * (a * edge.length + b) + 1] = edge[b];
      }
    }
    int pairs = words.length / 2;
    float[] got = new float[words.length];
    VectorNormal.floats(words, 0, pairs, got, 0, -0.0, 1.0, new double[3 * pairs]);
    float[] want = new float[words.length];
    Philox.scalarNormals(words, 0, 0, pairs, 0, 0, words.length, want, 0, -0.0, 1.0, null);
    return Arrays.equals(got, want);
  }

  private static boolean possible() {
    if ("false".equals(System.getProperty(PROPERTY))) {
      return false;
    }
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
      return false;
    }
    try {
      HotSpotDiagnosticMXBean hotSpot =
          ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
      boolean compiler = Boolean.parseBoolean(hotSpot.getVMOption("UseCompiler").getValue());
      boolean tiered = Boolean.parseBoolean(hotSpot.getVMOption("TieredCompilation").getValue());
      int stop = Integer.parseInt(hotSpot.getVMOption("TieredStopAtLevel").getValue());
      return compiler && (!tiered || stop >= 4);
    } catch (RuntimeException | LinkageError e) {
      return false; // not HotSpot, or no jdk.management: no way to know that C2 runs
    }
  }
}
