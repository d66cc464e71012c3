package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EmberConfigTest {
  @Test
  void withThreadsSetsTheCallingThreadOnlyAndRestoresIt() throws Exception {
    int saved = EmberConfig.threads();
    try {
      EmberConfig.setThreads(1);
      AtomicInteger other = new AtomicInteger();
      EmberConfig.withThreads(
          3,
          () -> {
            assertEquals(3, EmberConfig.threads());
            Thread t = new Thread(() -> other.set(EmberConfig.threads()));
            t.start();
            try {
              t.join();
            } catch (InterruptedException e) {
              throw new IllegalStateException(e);
            }
            EmberConfig.withThreads(2, () -> assertEquals(2, EmberConfig.threads()));
            assertEquals(3, EmberConfig.threads(), "restored after the nested call");
          });
      assertEquals(1, other.get(), "another thread keeps the process-wide setting");
      assertEquals(1, EmberConfig.threads(), "restored");
      assertThrows(
          IllegalStateException.class,
          () ->
              EmberConfig.withThreads(
                  4,
                  () -> {
                    throw new IllegalStateException("boom");
                  }));
      assertEquals(1, EmberConfig.threads(), "restored after a failure");
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> EmberConfig.withThreads(0, () -> {}));
      assertTrue(e.getMessage().contains("threads must be >= 1, got 0"), e.getMessage());
    } finally {
      EmberConfig.setThreads(saved);
    }
  }

  @Test
  void kernelsGiveTheSameBitsUnderAnOverride() {
    int saved = EmberConfig.threads();
    try (MemoryScope scope = MemoryScope.open()) {
      EmberConfig.setThreads(1);
      NDArray r = NDArray.randn(new Generator(5), DType.FLOAT32, 400, 300);
      NDArray one = r.sum(0);
      NDArray[] split = new NDArray[1];
      EmberConfig.withThreads(2, () -> split[0] = r.sum(0));
      assertClose(one.toDoubleArray(), split[0], 0);
    } finally {
      EmberConfig.setThreads(saved);
    }
  }
}
