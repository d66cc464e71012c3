package org.emberdl.onnx;

/**
 * A node of an imported ONNX graph failed while running (an input of the wrong shape or type for
 * it, an index out of range); the message names the node and its op type, the cause says what
 * Ember's op rejected.
 */
public class OnnxExecutionException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public OnnxExecutionException(String message) {
    super(message);
  }

  public OnnxExecutionException(String message, Throwable cause) {
    super(message, cause);
  }
}
