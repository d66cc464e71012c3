package org.emberdl.tensor.io;

/**
 * A safetensors file whose tensors are valid but need more memory than the reader may allocate: the
 * message names the source, the largest tensor, the bytes needed and the budget. Thrown before any
 * array is allocated, so nothing needs freeing.
 */
public class SafetensorsTooLargeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final String tensor;
  private final long bytes;
  private final long budget;

  /**
   * @param source the file or buffer that was read, as shown to the user
   * @param tensor the largest tensor of the file
   * @param bytes the bytes the file's tensors need in all
   * @param budget the bytes the reader was allowed to allocate
   * @param hint what to change, as a sentence fragment (may be empty)
   */
  public SafetensorsTooLargeException(
      String source, String tensor, long bytes, long budget, String hint) {
    super(
        "safetensors "
            + source
            + " holds tensors of "
            + bytes
            + " bytes in all (the largest, '"
            + tensor
            + "'), over the memory budget of "
            + budget
            + " bytes"
            + (hint.isEmpty() ? "" : "; " + hint));
    this.source = source;
    this.tensor = tensor;
    this.bytes = bytes;
    this.budget = budget;
  }

  /** The file or buffer that was read. */
  public String source() {
    return source;
  }

  /** The largest tensor of the file. */
  public String tensor() {
    return tensor;
  }

  /** The bytes the file's tensors need in all. */
  public long bytes() {
    return bytes;
  }

  /** The bytes the reader was allowed to allocate. */
  public long budget() {
    return budget;
  }
}
