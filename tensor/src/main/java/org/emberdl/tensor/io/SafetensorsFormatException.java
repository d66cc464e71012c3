package org.emberdl.tensor.io;

import java.io.IOException;

/**
 * A safetensors file (or byte array) that breaks the format: the message names the source, the
 * tensor when one is at fault, and what is wrong with it.
 */
public class SafetensorsFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final String tensor;

  /**
   * @param source the file or buffer that was read, as shown to the user
   * @param tensor the tensor at fault, or {@code null} when the problem is not one tensor's
   * @param problem what is wrong, as a sentence fragment
   */
  public SafetensorsFormatException(String source, String tensor, String problem) {
    super(format(source, tensor, problem));
    this.source = source;
    this.tensor = tensor;
  }

  private static String format(String source, String tensor, String problem) {
    StringBuilder sb = new StringBuilder("invalid safetensors ").append(source).append(": ");
    if (tensor != null) {
      sb.append("tensor '").append(tensor).append("' ");
    }
    return sb.append(problem).toString();
  }

  /** The file or buffer that was read. */
  public String source() {
    return source;
  }

  /** The tensor at fault, or {@code null} when the problem is not one tensor's. */
  public String tensor() {
    return tensor;
  }
}
