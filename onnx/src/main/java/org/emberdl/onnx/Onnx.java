package org.emberdl.onnx;

/**
 * Ember modules to and from ONNX files (https://onnx.ai), the format every serving stack reads.
 *
 * <p>The messages are protobuf classes generated at build time from this module's {@code
 * onnx.proto} ({@code org.emberdl.onnx.proto}).
 */
public final class Onnx {
  private Onnx() {}
}
