package org.emberdl.spark.internal.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.nn.Linear;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The partitions' off-heap rows an executor keeps between a fit's stages ({@link
 * ExecutorEngine#keepRows}): bounded by half the budget, taken by identity, freed on release, on
 * demand and when their partition object is gone.
 */
class ExecutorEngineKeptRowsTest {
  private static final String RUN = "kept-rows-test";
  private ExecutorEngine engine;

  /** Stands in for a partition's Arrow rows: only whether it was closed matters here. */
  private static final class Rows implements AutoCloseable {
    boolean closed;

    @Override
    public void close() {
      closed = true;
    }
  }

  @BeforeEach
  void pooledRun() {
    SparkTestSession.get(); // the engine sizes its budget from SparkEnv
    engine = ExecutorEngine.get();
    engine.releaseAll();
    // a run is pooled once a task borrowed a replica for it
    engine.giveBack(RUN, engine.borrow(RUN, () -> new Linear(1, 1, true, new Generator(1))));
  }

  @AfterEach
  void releaseRuns() {
    engine.releaseAll();
    assertEquals(0, engine.keptBytes());
  }

  @Test
  void keptRowsGoToTheNextTaskOfTheSamePartitionObjectOnly() {
    Object partition = new Object();
    Rows rows = new Rows();
    engine.keepRows(RUN, 3, partition, rows, 1000);
    assertEquals(1000, engine.keptBytes());
    assertNull(engine.takeRows(RUN, 4, partition), "another partition");
    assertNull(engine.takeRows("other-run", 3, partition), "another run");
    assertSame(rows, engine.takeRows(RUN, 3, partition));
    assertEquals(0, engine.keptBytes(), "taken out: one task at a time holds it");
    assertNull(engine.takeRows(RUN, 3, partition));

    // a recomputed partition is another object: its old copy is freed, not handed out
    engine.keepRows(RUN, 3, partition, rows, 1000);
    assertNull(engine.takeRows(RUN, 3, new Object()));
    assertTrue(rows.closed);
    assertEquals(0, engine.keptBytes());
  }

  @Test
  void keptRowsTakeAtMostHalfTheBudget() {
    long half = Allocators.cpu().getLimit() / 2;
    Object first = new Object();
    Object second = new Object();
    Rows fits = new Rows();
    Rows over = new Rows();
    engine.keepRows(RUN, 0, first, fits, half - 10);
    engine.keepRows(RUN, 1, second, over, 11);
    assertFalse(fits.closed);
    assertTrue(over.closed, "over half the budget: freed at once, the next task copies again");
    assertEquals(half - 10, engine.keptBytes());
    assertNull(engine.takeRows(RUN, 1, second));
  }

  @Test
  void releaseAndDropFreeEverythingKept() {
    Rows a = new Rows();
    Rows b = new Rows();
    Object pa = new Object();
    Object pb = new Object();
    engine.keepRows(RUN, 0, pa, a, 10);
    engine.keepRows(RUN, 1, pb, b, 10);
    assertEquals(2, engine.dropKeptRows());
    assertTrue(a.closed && b.closed);
    assertEquals(0, engine.keptBytes());

    Rows c = new Rows();
    engine.keepRows(RUN, 0, pa, c, 10);
    engine.release(RUN);
    assertTrue(c.closed);
    Rows late = new Rows();
    engine.keepRows(RUN, 0, pa, late, 10); // a task that ends after the fit released its run
    assertTrue(late.closed);
    assertEquals(0, engine.keptBytes());
  }

  @Test
  void rowsOfACollectedPartitionAreFreedAtTheNextKeepOrTake() throws Exception {
    Rows rows = new Rows();
    engine.keepRows(RUN, 0, new Object(), rows, 10); // nothing else holds the partition
    for (int i = 0; i < 50 && !rows.closed; i++) {
      System.gc();
      Thread.sleep(10);
      engine.takeRows(RUN, 9, this);
    }
    assertTrue(rows.closed, "the weakly held partition was collected and its rows freed");
    assertEquals(0, engine.keptBytes());
  }
}
