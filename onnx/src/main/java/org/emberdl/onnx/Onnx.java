package org.emberdl.onnx;

/**
 * Ember modules to and from ONNX files (https://onnx.ai), the format every serving stack reads.
 *
 * <p>The messages are protobuf classes generated at build time from this module's {@code
 * onnx.proto} ({@code org.emberdl.onnx.proto}).
 */
public final class Onnx {
  private Onnx() {}

  /**
   * Imports the ONNX model in {@code file} as a trainable module (in eval mode). External data
   * files are read from the model's directory; their locations must stay inside it.
   *
   * @throws OnnxFormatException for a file that is not an ONNX model, an op or attribute Ember does
   *     not implement, a graph that is not a DAG, or a tensor whose data does not fill its shape;
   *     the message names the node or initializer
   * @throws java.io.IOException when the file cannot be read
   */
  public static OnnxModule load(java.nio.file.Path file) throws java.io.IOException {
    java.nio.file.Path abs = file.toAbsolutePath();
    byte[] bytes;
    try {
      bytes = java.nio.file.Files.readAllBytes(abs);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new java.io.FileNotFoundException("ONNX model " + abs + " does not exist");
    }
    return OnnxImporter.importModel(bytes, abs.getParent(), "ONNX model " + abs);
  }

  /**
   * Imports an ONNX model from its bytes. A model with external data needs {@link
   * #load(java.nio.file.Path)}.
   *
   * @throws OnnxFormatException as {@link #load(java.nio.file.Path)}
   */
  public static OnnxModule load(byte[] bytes) throws OnnxFormatException {
    return OnnxImporter.importModel(bytes, null, "ONNX model (" + bytes.length + " bytes)");
  }

  /**
   * Imports an ONNX model read to the end of {@code in} (not closed). A model with external data
   * needs {@link #load(java.nio.file.Path)}.
   *
   * @throws OnnxFormatException as {@link #load(java.nio.file.Path)}
   * @throws java.io.IOException when the stream fails
   */
  public static OnnxModule load(java.io.InputStream in) throws java.io.IOException {
    return load(in.readAllBytes());
  }
}
