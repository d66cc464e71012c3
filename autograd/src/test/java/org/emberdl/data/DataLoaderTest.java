package org.emberdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class DataLoaderTest {
  private static final int N = 10;

  /** Example i has features (i, 100 + i) and label i, so rows can be traced through batches. */
  private static Dataset tenExamples() {
    float[] x = new float[2 * N];
    long[] y = new long[N];
    for (int i = 0; i < N; i++) {
      x[2 * i] = i;
      x[2 * i + 1] = 100 + i;
      y[i] = i;
    }
    return new Dataset(NDArray.of(x, N, 2), NDArray.of(y));
  }

  /** The batch sizes and the labels, in order, of one epoch; checks each row against its label. */
  private static List<Integer> drain(DataLoader loader, int epoch, List<Long> labels) {
    List<Integer> sizes = new ArrayList<>();
    for (Batch b : loader.epoch(epoch)) {
      try (b) {
        assertEquals(b.x().shape(0), b.y().shape(0));
        sizes.add(b.size());
        float[] x = b.x().toFloatArray();
        long[] y = b.y().toLongArray();
        for (int r = 0; r < y.length; r++) {
          assertEquals(y[r], x[2 * r], "row matches its label");
          assertEquals(100 + y[r], x[2 * r + 1]);
          labels.add(y[r]);
        }
      }
    }
    return sizes;
  }

  private static List<Long> labels(DataLoader loader, int epoch) {
    List<Long> out = new ArrayList<>();
    drain(loader, epoch, out);
    return out;
  }

  @Test
  void lastBatchPolicies() {
    try (Dataset d = tenExamples()) {
      for (boolean shuffle : new boolean[] {false, true}) {
        DataLoader keep = new DataLoader(d, 3, shuffle, false, 1);
        assertEquals(4, keep.numBatches());
        assertEquals(List.of(3, 3, 3, 1), drain(keep, 0, new ArrayList<>()));

        DataLoader drop = new DataLoader(d, 3, shuffle, true, 1);
        assertEquals(3, drop.numBatches());
        assertEquals(List.of(3, 3, 3), drain(drop, 0, new ArrayList<>()));

        for (boolean dropLast : new boolean[] {false, true}) {
          DataLoader exact = new DataLoader(d, 5, shuffle, dropLast, 1);
          assertEquals(2, exact.numBatches());
          assertEquals(List.of(5, 5), drain(exact, 0, new ArrayList<>()));
        }

        assertEquals(List.of(10), drain(new DataLoader(d, 64, shuffle, false, 1), 0, list()));
        DataLoader tooBig = new DataLoader(d, 64, shuffle, true, 1);
        assertEquals(0, tooBig.numBatches());
        assertFalse(tooBig.epoch(0).iterator().hasNext());
      }
    }
  }

  private static List<Long> list() {
    return new ArrayList<>();
  }

  @Test
  void shuffledEpochsArePermutations() {
    try (Dataset d = tenExamples()) {
      DataLoader loader = new DataLoader(d, 3, true, false, 42);
      for (int e = 0; e < 5; e++) {
        List<Long> seen = labels(loader, e);
        assertEquals(N, seen.size());
        long[] sorted = seen.stream().mapToLong(Long::longValue).sorted().toArray();
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, sorted, "each exactly once");
      }
      // With dropLast the kept examples are still distinct.
      List<Long> kept = labels(new DataLoader(d, 3, true, true, 42), 0);
      assertEquals(9, kept.size());
      assertEquals(9, kept.stream().distinct().count());
    }
  }

  @Test
  void shufflingIsSeededPerEpoch() {
    try (Dataset d = tenExamples()) {
      DataLoader a = new DataLoader(d, 4, true, false, 7);
      DataLoader b = new DataLoader(d, 4, true, false, 7);
      // Epoch 3 is the same whether or not epochs 0..2 ran before it.
      for (int e = 0; e < 3; e++) {
        labels(a, e);
      }
      List<Long> third = labels(a, 3);
      assertEquals(third, labels(b, 3));
      assertEquals(third, labels(a, 3), "an epoch can be replayed");
      assertEquals(N, third.size());

      assertFalse(labels(a, 0).equals(labels(a, 1)), "different epochs differ");
      DataLoader other = new DataLoader(d, 4, true, false, 8);
      assertFalse(labels(a, 0).equals(labels(other, 0)), "different seeds differ");

      // The order is NDArray.randperm(new Generator(seed, epoch), N), as documented.
      try (NDArray perm = NDArray.randperm(new Generator(7, 3), N)) {
        long[] expected = perm.toLongArray();
        assertArrayEquals(expected, a.order(3));
        assertArrayEquals(expected, third.stream().mapToLong(Long::longValue).toArray());
      }

      // Iterating the same Iterable twice restarts the epoch.
      Iterable<Batch> epoch = a.epoch(5);
      List<Long> first = new ArrayList<>();
      List<Long> second = new ArrayList<>();
      for (List<Long> out : List.of(first, second)) {
        for (Batch batch : epoch) {
          try (batch) {
            for (long v : batch.y().toLongArray()) {
              out.add(v);
            }
          }
        }
      }
      assertEquals(first, second);
    }
  }

  @Test
  void withoutShuffleBatchesAreViewsInOrder() {
    try (Dataset d = tenExamples()) {
      DataLoader loader = new DataLoader(d, 4, false, false, 99);
      assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, loader.order(0));
      List<Long> seen = new ArrayList<>();
      for (Batch b : loader.epoch(0)) {
        try (b) {
          assertSame(d.features().storage(), b.x().storage(), "features are a view");
          assertSame(d.labels().storage(), b.y().storage(), "labels are a view");
          for (long v : b.y().toLongArray()) {
            seen.add(v);
          }
        }
      }
      assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L), seen);
      assertEquals(seen, labels(loader, 3), "every epoch is the same");
    }
  }

  @Test
  void shuffledBatchesAreCopies() {
    try (Dataset d = tenExamples()) {
      Iterator<Batch> it = new DataLoader(d, 4, true, false, 1).epoch(0).iterator();
      try (Batch b = it.next()) {
        assertNotSame(d.features().storage(), b.x().storage());
        assertTrue(b.x().isContiguous());
      }
    }
  }

  @Test
  void batchesCanBeMadeInsideAScopePerStep() {
    try (Dataset d = tenExamples()) {
      Iterator<Batch> it = new DataLoader(d, 3, true, false, 5).epoch(0).iterator();
      int steps = 0;
      while (it.hasNext()) {
        try (MemoryScope step = MemoryScope.open()) {
          Batch b = it.next();
          try (NDArray sum = b.x().sum()) {
            assertTrue(sum.item() > 0 || b.size() == 1);
          }
          assertEquals(2, step.size(), "the batch's x and y belong to the step's scope");
          steps++;
        }
      }
      assertEquals(4, steps);
      assertThrows(NoSuchElementException.class, it::next);
    }
  }

  @Test
  void stoppingEarlyLeaksNothing() {
    try (Dataset d = tenExamples()) {
      for (Batch b : new DataLoader(d, 2, true, false, 3).epoch(0)) {
        b.close();
        break; // the leak check fails the test if the epoch held any array memory
      }
    }
  }

  @Test
  void rejectsBadArguments() {
    try (Dataset d = tenExamples()) {
      assertThrows(IllegalArgumentException.class, () -> new DataLoader(d, 0, false, false, 0));
      DataLoader loader = new DataLoader(d, 2, true, false, 0);
      assertThrows(IllegalArgumentException.class, () -> loader.epoch(-1));
      assertThrows(IllegalArgumentException.class, () -> loader.order(-1));
      DataLoader plain = new DataLoader(d, 2, false, false, 0);
      assertThrows(IllegalArgumentException.class, () -> plain.epoch(-1));
      assertThrows(NullPointerException.class, () -> new DataLoader(null, 2, false, false, 0));
    }
  }

  @Test
  void multiDimensionalFeaturesKeepTheirShape() {
    float[] x = new float[6 * 2 * 3];
    for (int i = 0; i < x.length; i++) {
      x[i] = i;
    }
    try (Dataset d =
        new Dataset(NDArray.of(x, 6, 2, 3), NDArray.of(new long[] {0, 1, 2, 3, 4, 5}))) {
      for (Batch b : new DataLoader(d, 4, true, false, 11).epoch(2)) {
        try (b) {
          assertEquals(3, b.x().ndim());
          assertEquals(2, b.x().shape(1));
          assertEquals(3, b.x().shape(2));
          float[] v = b.x().toFloatArray();
          long[] y = b.y().toLongArray();
          for (int r = 0; r < y.length; r++) {
            assertEquals(6f * y[r], v[6 * r], "row " + r + " is example " + y[r]);
            assertEquals(6f * y[r] + 5, v[6 * r + 5]);
          }
        }
      }
    }
  }
}
