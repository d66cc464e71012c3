package org.emberdl.spark.internal.plan;

import org.apache.spark.ml.util.Identifiable;

/**
 * Hands a stage's uid to its Scala superclass constructor.
 *
 * <p>Spark ML's base classes create their {@code Param}s in their constructors, and a {@code Param}
 * reads its parent's {@code uid()} right then, before a Java subclass constructor could assign a
 * field. Scala stages avoid this with a constructor {@code val}; Java stages call {@code
 * this(PendingUid.set(uid))} so the value waits in a thread-local until the first {@code uid()}
 * call takes it.
 */
public final class PendingUid {
  private static final ThreadLocal<String> PENDING = new ThreadLocal<>();

  /** A marker passed to the private constructor that follows. */
  public static final class Token {
    private Token() {}
  }

  private static final Token TOKEN = new Token();

  private PendingUid() {}

  /** Stores {@code uid} for the next {@link #take} on this thread. */
  public static Token set(String uid) {
    if (uid == null || uid.isEmpty()) {
      throw new IllegalArgumentException("uid must be non-empty");
    }
    PENDING.set(uid);
    return TOKEN;
  }

  /** The stored uid (cleared), or a fresh random one with {@code prefix}. */
  public static String take(String prefix) {
    String uid = PENDING.get();
    PENDING.remove();
    return uid != null ? uid : Identifiable.randomUID(prefix);
  }
}
