package org.emberdl.autograd;

/**
 * Whether ops record the graph on this thread. Recording is on by default; {@link NoGrad} turns it
 * off for a block (inference, optimizer updates).
 */
public final class GradMode {
  private static final ThreadLocal<int[]> DISABLED = ThreadLocal.withInitial(() -> new int[1]);

  private GradMode() {}

  /** True unless a {@link NoGrad} block is open on this thread. */
  public static boolean isEnabled() {
    return DISABLED.get()[0] == 0;
  }

  static void disable() {
    DISABLED.get()[0]++;
  }

  static void restore() {
    DISABLED.get()[0]--;
  }
}
