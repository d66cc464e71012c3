package org.emberdl.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Set;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * A masked input is a uniformly random ring vector, whatever the update: Pearson chi-square tests
 * over 256 bins (255 degrees of freedom) at significance 0.001, critical value 330.52 (scipy {@code
 * chi2.ppf(0.999, 255)}). Each run is deterministic (fixed seeds), so the tests cannot flake; the
 * significance level says how surprising a failure would be.
 */
class MaskUniformityTest {
  private static final int LENGTH = 1 << 16; // 256 expected per bin
  private static final double CRITICAL_255_DF_0_001 = 330.52;
  private static final FixedPointCodec CODEC = new FixedPointCodec(4, 24);

  private static final LongUnaryOperator TOP_BYTE = v -> v >>> 56;
  private static final LongUnaryOperator LOW_BYTE = v -> v & 0xff;

  @Test
  void aMaskedConstantUpdateIsUniform() {
    long[] masked = maskedInputOfClient0(0.5f, 1);
    assertTrue(chiSquare(histogram(masked, TOP_BYTE)) < CRITICAL_255_DF_0_001);
    assertTrue(chiSquare(histogram(masked, LOW_BYTE)) < CRITICAL_255_DF_0_001);
  }

  @Test
  void maskedInputsOfDifferentUpdatesAreIndistinguishable() {
    long[] a = maskedInputOfClient0(0.5f, 2);
    long[] b = maskedInputOfClient0(-3.75f, 3);
    for (LongUnaryOperator bits : new LongUnaryOperator[] {TOP_BYTE, LOW_BYTE}) {
      long[] ha = histogram(a, bits);
      long[] hb = histogram(b, bits);
      assertTrue(chiSquare(hb) < CRITICAL_255_DF_0_001);
      // Two-sample test of homogeneity (2 x 256 contingency table, 255 degrees of freedom).
      double h = twoSampleChiSquare(ha, hb);
      assertTrue(h < CRITICAL_255_DF_0_001, "homogeneity statistic " + h);
    }
  }

  @Test
  void theTestDetectsUnmaskedEncodings() {
    // Power check: the bare encodings of uniform values in [-4, 4] fill only the top-byte bins 0
    // and 255, and a constant's low byte is a single bin.
    float[][] u = Simulation.randomUpdates(1, LENGTH, 4.0, 5);
    long[] encoded = new long[LENGTH];
    CODEC.encode(u[0], null, encoded);
    assertTrue(chiSquare(histogram(encoded, TOP_BYTE)) > 10_000);
    long[] constant = new long[LENGTH];
    Arrays.fill(constant, CODEC.encode(0.5));
    assertTrue(chiSquare(histogram(constant, LOW_BYTE)) > 10_000);
  }

  /** Client 0's masked input in a round of 3 clients (t = 2) all sending {@code value}. */
  private static long[] maskedInputOfClient0(float value, long seed) {
    float[][] updates = new float[3][LENGTH];
    for (float[] row : updates) {
      Arrays.fill(row, value);
    }
    SecureAggregationParameters p =
        new SecureAggregationParameters("uniform-" + seed, 2, LENGTH, CODEC);
    Simulation s =
        new Simulation(p, 3, seed)
            .advertise(Set.of())
            .shareKeys(Set.of())
            .maskInputs(updates, Set.of());
    return s.masked.get(0).values();
  }

  private static long[] histogram(long[] values, LongUnaryOperator bin) {
    long[] h = new long[256];
    for (long v : values) {
      h[(int) bin.applyAsLong(v)]++;
    }
    return h;
  }

  private static double chiSquare(long[] h) {
    double n = Arrays.stream(h).sum();
    double expected = n / h.length;
    double x = 0;
    for (long o : h) {
      x += (o - expected) * (o - expected) / expected;
    }
    return x;
  }

  private static double twoSampleChiSquare(long[] a, long[] b) {
    double na = Arrays.stream(a).sum();
    double nb = Arrays.stream(b).sum();
    double x = 0;
    for (int k = 0; k < a.length; k++) {
      double col = a[k] + b[k];
      double ea = col * na / (na + nb);
      double eb = col * nb / (na + nb);
      x += (a[k] - ea) * (a[k] - ea) / ea + (b[k] - eb) * (b[k] - eb) / eb;
    }
    return x;
  }
}
