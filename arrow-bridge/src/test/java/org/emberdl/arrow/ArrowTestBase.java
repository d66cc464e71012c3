package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Gives each test its own Arrow root allocator, standing for a producer outside Ember (Spark, an
 * IPC reader), and fails the test when it ends with bytes outstanding. Ember's own allocator is
 * checked by the tensor module's {@code AllocatorLeakCheck}, registered for every test.
 */
abstract class ArrowTestBase {
  protected BufferAllocator arrow;

  @BeforeEach
  void openAllocator() {
    arrow = new RootAllocator();
  }

  @AfterEach
  void closeAllocator() {
    long outstanding = arrow.getAllocatedMemory();
    arrow.close(); // throws, naming the buffers, when something is still allocated
    assertEquals(0, outstanding, "Arrow allocator bytes outstanding at the end of the test");
  }
}
