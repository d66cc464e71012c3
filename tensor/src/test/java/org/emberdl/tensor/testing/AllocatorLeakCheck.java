package org.emberdl.tensor.testing;

import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test that ends with CPU array memory still allocated. Registered for every test of the
 * module through {@code META-INF/services} (JUnit's extension auto-detection); later modules get it
 * from the tensor test-jar.
 */
public final class AllocatorLeakCheck implements BeforeEachCallback, AfterEachCallback {
  private static final ExtensionContext.Namespace NS =
      ExtensionContext.Namespace.create(AllocatorLeakCheck.class);

  @Override
  public void beforeEach(ExtensionContext context) {
    context.getStore(NS).put("before", Allocators.cpuAllocatedBytes());
  }

  @Override
  public void afterEach(ExtensionContext context) {
    long before = context.getStore(NS).get("before", Long.class);
    long after = Allocators.cpuAllocatedBytes();
    if (after != before) {
      throw new AssertionError(
          "test "
              + context.getDisplayName()
              + " leaked "
              + (after - before)
              + " bytes of array memory (allocator at "
              + after
              + " bytes, was "
              + before
              + "): close every NDArray or use a MemoryScope");
    }
  }
}
