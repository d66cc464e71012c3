package org.emberdl.data;

import java.io.IOException;

/**
 * An IDX file that breaks the format, or that does not hold what the caller asked for (class labels
 * out of range, images and labels of different counts): the message names the file and what is
 * wrong with it.
 */
public class IdxFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String source;

  /**
   * @param source the file that was read, as shown to the user
   * @param problem what is wrong, as a sentence fragment
   */
  public IdxFormatException(String source, String problem) {
    this(source, problem, null);
  }

  /**
   * @param source the file that was read, as shown to the user
   * @param problem what is wrong, as a sentence fragment
   * @param cause the lower-level failure (a corrupt gzip stream), or {@code null}
   */
  public IdxFormatException(String source, String problem, Throwable cause) {
    super("invalid IDX file " + source + ": " + problem, cause);
    this.source = source;
  }

  /** The file that was read. */
  public String source() {
    return source;
  }
}
