package org.emberdl.examples;

import java.lang.reflect.Method;

/** Test support: closes the scoring and training replicas spark-integration pools in this JVM. */
final class PooledReplicas {
  private PooledReplicas() {}

  /**
   * Calls {@code ExecutorEngine.get().releaseAll()} (package-private in spark-integration, whose
   * own tests call it directly), so that the allocator leak check after each test sees only leaks.
   */
  static void releaseAll() throws ReflectiveOperationException {
    Class<?> engine = Class.forName("org.emberdl.spark.ExecutorEngine");
    Method get = engine.getDeclaredMethod("get");
    get.setAccessible(true);
    Method releaseAll = engine.getDeclaredMethod("releaseAll");
    releaseAll.setAccessible(true);
    releaseAll.invoke(get.invoke(null));
  }
}
