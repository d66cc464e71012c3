package org.emberdl.tensor.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.random.Philox;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link IdleWork}: chunks run once each, by idle pool workers, and finish/cancel/failures. */
class IdleWorkTest {
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

  private static void awaitCount(AtomicInteger count, int expected) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (count.get() < expected && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
  }

  @Test
  void idleWorkersRunEveryChunkOnceWithoutTheCaller() throws InterruptedException {
    int chunks = 200;
    AtomicIntegerArray runs = new AtomicIntegerArray(chunks);
    AtomicInteger total = new AtomicInteger();
    Set<String> threads = ConcurrentHashMap.newKeySet();
    IdleWork.Job job =
        IdleWork.offer(
            chunks,
            i -> {
              runs.incrementAndGet(i);
              threads.add(Thread.currentThread().getName());
              total.incrementAndGet();
            });
    assertNotNull(job);
    // the caller does nothing: the (otherwise idle) pool worker draws every chunk
    awaitCount(total, chunks);
    job.finish();
    assertEquals(0, job.chunksLeftAtFinish(), "finish found every chunk done");
    for (int i = 0; i < chunks; i++) {
      assertEquals(1, runs.get(i), "chunk " + i);
    }
    assertEquals(Set.of("ember-cpu-1"), threads);
  }

  @Test
  void finishRunsTheChunksLeftAndEachChunkRunsOnce() {
    int chunks = 5000;
    AtomicIntegerArray runs = new AtomicIntegerArray(chunks);
    IdleWork.Job job = IdleWork.offer(chunks, runs::incrementAndGet);
    assertNotNull(job);
    job.finish(); // at once: most chunks are still unclaimed
    for (int i = 0; i < chunks; i++) {
      assertEquals(1, runs.get(i), "chunk " + i);
    }
    assertTrue(job.chunksLeftAtFinish() >= 0 && job.chunksLeftAtFinish() <= chunks);
  }

  @Test
  void oneJobAtATimeAndNoneWithoutWorkers() {
    IdleWork.Job first = IdleWork.offer(1, i -> {});
    assertNotNull(first);
    assertNull(IdleWork.offer(1, i -> {}), "a second job while the first is pending");
    first.finish();
    IdleWork.Job again = IdleWork.offer(1, i -> {});
    assertNotNull(again, "the slot is free after finish");
    again.finish();
    EmberConfig.setThreads(1);
    assertNull(IdleWork.offer(1, i -> {}), "one thread: no pool workers to use");
  }

  @Test
  void aFailingChunkIsRethrownByFinish() {
    IllegalStateException boom = new IllegalStateException("chunk 3 failed");
    IdleWork.Job job =
        IdleWork.offer(
            10,
            i -> {
              if (i == 3) {
                throw boom;
              }
            });
    assertNotNull(job);
    IllegalStateException e = assertThrows(IllegalStateException.class, job::finish);
    assertSame(boom, e);
    IdleWork.Job next = IdleWork.offer(1, i -> {});
    assertNotNull(next, "a failed job does not hold the slot");
    next.finish();
  }

  @Test
  void cancelStopsTheChunksNotStarted() throws InterruptedException {
    AtomicInteger ran = new AtomicInteger();
    IdleWork.Job job =
        IdleWork.offer(
            1000,
            i -> {
              ran.incrementAndGet();
              try {
                Thread.sleep(1);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    assertNotNull(job);
    Thread.sleep(5);
    job.cancel();
    int atCancel = ran.get();
    assertTrue(atCancel < 1000, atCancel + " chunks ran");
    Thread.sleep(30);
    assertEquals(atCancel, ran.get(), "no chunk starts after cancel returns");
    IdleWork.Job next = IdleWork.offer(1, i -> {});
    assertNotNull(next);
    next.finish();
  }

  @Test
  void negativeChunkCountsAreRefused() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> IdleWork.offer(-1, i -> {}));
    assertEquals("chunks must be >= 0, got -1", e.getMessage());
  }

  @Test
  void chunkedNormalFillsGiveTheBitsOfOneDraw() {
    // 10,001 values in chunks of 1,000 drawn by idle workers and the caller, from an odd offset
    Generator gen = new Generator(42, 3);
    gen.setPosition(7);
    try (NDArray expected = NDArray.normal(gen, DType.FLOAT32, 0, 1.7, 10_001);
        NDArray out = NDArray.empty(DType.FLOAT32, 10_001)) {
      Philox philox = new Philox(42, 3);
      Generator probe = new Generator(42, 3);
      probe.setPosition(7);
      long offset = probe.reserveNormal(10_001, DType.FLOAT32);
      IdleWork.Job job =
          IdleWork.offer(
              11,
              i ->
                  CpuNormalFill.normal(
                      philox, offset, out, i * 1000L, Math.min(1000, 10_001 - i * 1000), 0, 1.7));
      assertNotNull(job);
      job.finish();
      assertEquals(
          java.util.Arrays.toString(expected.toFloatArray()),
          java.util.Arrays.toString(out.toFloatArray()));
    }
  }

  @Test
  void normalFillRefusesWhatItCannotWriteAndRangesOutside() {
    Philox philox = new Philox(1, 0);
    try (NDArray ints = NDArray.zeros(DType.INT32, 4);
        NDArray m = NDArray.zeros(DType.FLOAT32, 3, 4);
        NDArray t = m.t();
        NDArray ok = NDArray.zeros(DType.FLOAT64, 4)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> CpuNormalFill.normal(philox, 0, ints, 0, 4, 0, 1));
      assertTrue(
          e.getMessage().contains("float32 or float64") && e.getMessage().contains("int32"),
          e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class, () -> CpuNormalFill.normal(philox, 0, t, 0, 4, 0, 1));
      assertTrue(e.getMessage().contains("(not contiguous)"), e.getMessage());
      IndexOutOfBoundsException o =
          assertThrows(
              IndexOutOfBoundsException.class,
              () -> CpuNormalFill.normal(philox, 0, ok, 2, 3, 0, 1));
      assertEquals("elements [2, 5) of an array of 4", o.getMessage());
    }
  }
}
