package org.emberdl.federated.secagg;

/**
 * Too few clients or shares to go on: a round closed with fewer than the threshold {@code t} of
 * participants, or a secret has fewer than {@code t} shares. The round must be abandoned: its sum
 * cannot be recovered, and nothing partial is returned.
 */
public final class BelowThresholdException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  private final int available;
  private final int needed;

  /**
   * @param what what could not be done, e.g. "cannot reconstruct the self-mask seed of client 3"
   * @param available how many shares (or clients) there were
   * @param needed how many the threshold asks for
   */
  public BelowThresholdException(String what, int available, int needed) {
    this(what, available, needed, "");
  }

  /** As above, with {@code detail} appended to the message. */
  public BelowThresholdException(String what, int available, int needed, String detail) {
    super(
        what
            + ": "
            + available
            + " available, "
            + needed
            + " needed"
            + (detail.isEmpty() ? "" : " (" + detail + ")"));
    this.available = available;
    this.needed = needed;
  }

  /** How many shares (or clients) there were. */
  public int available() {
    return available;
  }

  /** The threshold. */
  public int needed() {
    return needed;
  }
}
