package org.emberdl.tensor.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.emberdl.tensor.EmberConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link Parallel#claim}: pieces of the grain claimed by the threads, each unit run once. */
class ParallelClaimTest {
  private int threadsBefore;

  @BeforeEach
  void twoThreads() {
    threadsBefore = EmberConfig.threads();
    EmberConfig.setThreads(2);
  }

  @AfterEach
  void restore() {
    EmberConfig.setThreads(threadsBefore);
  }

  @Test
  void everyUnitRunsOnceInPiecesOfTheGrain() {
    int n = 1003;
    AtomicIntegerArray runs = new AtomicIntegerArray(n);
    List<long[]> pieces = new CopyOnWriteArrayList<>();
    Parallel.claim(
        n,
        7,
        Long.MAX_VALUE,
        0,
        (from, to) -> {
          pieces.add(new long[] {from, to});
          for (long i = from; i < to; i++) {
            runs.incrementAndGet((int) i);
          }
        });
    for (int i = 0; i < n; i++) {
      assertEquals(1, runs.get(i), "unit " + i);
    }
    assertEquals(144, pieces.size(), "ceil(1003 / 7) pieces");
    for (long[] p : pieces) {
      assertEquals(0, p[0] % 7, "pieces start on the grain");
      assertTrue(p[1] - p[0] == 7 || (p[1] == n && p[1] - p[0] == n % 7), p[0] + ".." + p[1]);
    }
  }

  @Test
  void oneThreadOrLittleWorkRunsTheWholeRangeOnce() {
    List<long[]> pieces = new CopyOnWriteArrayList<>();
    Parallel.claim(100, 3, 10, 1000, (from, to) -> pieces.add(new long[] {from, to}));
    assertEquals(1, pieces.size());
    assertEquals(0, pieces.get(0)[0]);
    assertEquals(100, pieces.get(0)[1]);
    EmberConfig.setThreads(1);
    pieces.clear();
    Parallel.claim(100, 3, Long.MAX_VALUE, 0, (from, to) -> pieces.add(new long[] {from, to}));
    assertEquals(1, pieces.size());
    assertEquals(100, pieces.get(0)[1]);
  }

  @Test
  void aFailingPieceIsRethrown() {
    IllegalStateException boom = new IllegalStateException("piece failed");
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                Parallel.claim(
                    64,
                    4,
                    Long.MAX_VALUE,
                    0,
                    (from, to) -> {
                      if (from == 32) {
                        throw boom;
                      }
                    }));
    assertSame(boom, e);
  }

  @Test
  void grainCutsAboutPerThreadPiecesForEachThread() {
    assertEquals(1024 / 16, Parallel.grain(1024, 8));
    assertEquals(1, Parallel.grain(3, 8));
  }
}
