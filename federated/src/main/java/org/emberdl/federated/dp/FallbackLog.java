package org.emberdl.federated.dp;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.emberdl.nn.Module;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells, once per model class and reason, that DP-SGD clips a model one example at a time: the
 * fallback gives the same result as ghost clipping but costs a backward pass per example, so a user
 * who expected the fast path must be able to see why it was not taken. Every step of a fit asks
 * again; only the first asking of each (class, reason) logs.
 */
final class FallbackLog {
  private static final Logger LOG = LoggerFactory.getLogger(DpSgd.class);

  /** Bounds the memory of what was said: past it, nothing more is logged. */
  static final int MAX_REMEMBERED = 256;

  private static final Set<String> SAID = ConcurrentHashMap.newKeySet();

  private FallbackLog() {}

  /** Logs at WARN unless this (model class, reason) was logged before; returns whether it did. */
  static boolean once(Module model, String reason) {
    String key = model.getClass().getName() + ": " + reason;
    if (SAID.size() >= MAX_REMEMBERED || !SAID.add(key)) {
      return false;
    }
    LOG.warn(
        "DP-SGD clips {} one example at a time (one backward pass per example, same result as"
            + " ghost clipping, much slower): {}",
        model.getClass().getSimpleName(),
        reason);
    return true;
  }
}
