package org.emberdl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;

class MemoryTest {
  @Test
  void closeFreesAndIsIdempotent() {
    long before = Allocators.cpuAllocatedBytes();
    NDArray a = NDArray.zeros(DType.FLOAT64, 1000);
    assertTrue(Allocators.cpuAllocatedBytes() >= before + 8000);
    a.close();
    a.close();
    assertEquals(before, Allocators.cpuAllocatedBytes());
    assertTrue(a.isClosed());
  }

  @Test
  void useAfterCloseNamesShapeDtypeDevice() {
    NDArray a = NDArray.zeros(DType.INT32, 2, 3);
    a.close();
    IllegalStateException e = assertThrows(IllegalStateException.class, a::toIntArray);
    assertTrue(e.getMessage().contains("int32[2, 3] on cpu"), e.getMessage());
    assertThrows(IllegalStateException.class, () -> a.add(1));
    assertTrue(a.toString().contains("closed"));
  }

  @Test
  void viewsShareStorageUntilTheLastCloses() {
    long before = Allocators.cpuAllocatedBytes();
    NDArray a = NDArray.of(new float[] {1, 2, 3, 4}, 2, 2);
    NDArray t = a.t();
    NDArray r = a.reshape(4);
    assertEquals(3, a.storage().refCount());
    a.close();
    assertEquals(3f, t.toFloatArray()[1]); // still alive through the views
    r.close();
    assertTrue(Allocators.cpuAllocatedBytes() > before);
    t.close();
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void scopeClosesWhatItCreatedUnlessKept() {
    long before = Allocators.cpuAllocatedBytes();
    NDArray kept;
    NDArray inner;
    try (MemoryScope outer = MemoryScope.open()) {
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray a = NDArray.ones(DType.FLOAT32, 100);
        NDArray b = a.mul(2).add(1);
        inner = a;
        kept = scope.keep(b.sum());
        assertEquals(3, scope.size() - 0 > 0 ? scope.size() : -1); // a, the mul temp, b
      }
      assertTrue(inner.isClosed());
      assertFalse(kept.isClosed());
      assertEquals(300.0, kept.item());
    }
    assertTrue(kept.isClosed()); // kept into the outer scope, which closed it
    assertEquals(before, Allocators.cpuAllocatedBytes());

    NDArray escaped;
    try (MemoryScope scope = MemoryScope.open()) {
      escaped = scope.keep(NDArray.ones(DType.FLOAT32, 3)); // outermost: to the caller
    }
    assertFalse(escaped.isClosed());
    escaped.close();
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void scopesMustCloseInnermostFirst() {
    MemoryScope outer = MemoryScope.open();
    MemoryScope inner = MemoryScope.open();
    assertThrows(IllegalStateException.class, outer::close);
    inner.close();
    outer.close();
  }

  /** A fixture run only through the test kit below: it leaks on purpose. */
  static class LeakingFixture {
    static NDArray leaked;

    @Test
    void leaks() {
      leaked = NDArray.zeros(DType.FLOAT32, 16);
    }
  }

  @Test
  void theLeakCheckFailsALeakingTest() {
    try {
      EngineTestKit.engine("junit-jupiter")
          .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "true")
          .selectors(selectClass(LeakingFixture.class))
          .execute()
          .testEvents()
          .assertStatistics(stats -> stats.started(1).failed(1));
    } finally {
      LeakingFixture.leaked.close();
    }
  }
}
