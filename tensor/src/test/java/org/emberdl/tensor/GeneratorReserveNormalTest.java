package org.emberdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.tensor.random.Philox;
import org.junit.jupiter.api.Test;

/**
 * {@link Generator#reserveNormal} followed by {@link Philox#normal} on any thread is {@code
 * NDArray.normal} of the generator: the same values and the same position afterwards.
 */
class GeneratorReserveNormalTest {
  @Test
  void reservedValuesAreThoseOfNdarrayNormal() {
    for (long position : new long[] {0, 1, 2, 3, 7, 1000}) {
      for (int n : new int[] {1, 2, 5, 4096, 10_001}) {
        Generator a = new Generator(12, 34);
        Generator b = new Generator(12, 34);
        a.setPosition(position);
        b.setPosition(position);
        float[] want;
        try (NDArray x = NDArray.normal(a, DType.FLOAT32, 0, 1.7, n)) {
          want = x.toFloatArray();
        }
        long offset = b.reserveNormal(n, DType.FLOAT32);
        float[] got = new float[n];
        new Philox(12, 34).normal(offset, got, 0, n, 0f, 1.7f);
        assertArrayEquals(want, got, "position " + position + ", n " + n);
        assertEquals(a.position(), b.position());

        double[] wantD;
        try (NDArray x = NDArray.normal(a, DType.FLOAT64, 0, 1.7, n)) {
          wantD = x.toDoubleArray();
        }
        long offsetD = b.reserveNormal(n, DType.FLOAT64);
        double[] gotD = new double[n];
        new Philox(12, 34).normal(offsetD, gotD, 0, n, 0.0, 1.7);
        assertArrayEquals(wantD, gotD, "float64, position " + position + ", n " + n);
        assertEquals(a.position(), b.position());
      }
    }
  }

  @Test
  void onlyFloatingTypesAndNonNegativeCounts() {
    Generator g = new Generator(1);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> g.reserveNormal(4, DType.INT32));
    assertTrue(e.getMessage().contains("float32 or float64"), e.getMessage());
    assertTrue(e.getMessage().contains("int32") || e.getMessage().contains("INT32"));
    e = assertThrows(IllegalArgumentException.class, () -> g.reserveNormal(-1, DType.FLOAT32));
    assertEquals("n must be >= 0, got -1", e.getMessage());
    assertEquals(0, g.position());
  }
}
