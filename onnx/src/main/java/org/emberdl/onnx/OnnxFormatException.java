package org.emberdl.onnx;

import java.io.IOException;

/**
 * An ONNX file Ember cannot turn into a module: not a valid ModelProto, a graph that is not a DAG
 * of known ops, a tensor whose declared shape its data does not fill, an op or attribute Ember does
 * not implement. The message names the node (name and op type), initializer, value or file at fault
 * and what was expected.
 */
public class OnnxFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  public OnnxFormatException(String message) {
    super(message);
  }

  public OnnxFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
