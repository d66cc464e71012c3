package org.emberdl.onnx;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.emberdl.nn.Module;
import org.emberdl.onnx.export.OnnxExporter;
import org.emberdl.onnx.proto.ModelProto;

/**
 * Ember modules to and from ONNX files (https://onnx.ai), the format every serving stack reads.
 *
 * <p>Export, as {@code torch.onnx.export(model, sample, path, input_names=["input"],
 * output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})}:
 *
 * <pre>{@code
 * Sequential net = NetworkSpec.build("linear(128), relu, linear(10)", new int[] {784}, gen);
 * Onnx.export(net, new long[] {1, 784}, Path.of("mlp.onnx"));   // (batch, 784) -> (batch, 10)
 * }</pre>
 *
 * <p>The graph computes the model's eval-mode forward whatever mode the model is in (Dropout is the
 * identity, BatchNorm uses its running statistics) and leaves the model unchanged. Its weights are
 * initializers named by their state-dict keys ({@code 0.weight}, {@code 1.running_mean}). Exported
 * layers and their ONNX operators: see {@link org.emberdl.onnx.export.LayerExporters}.
 *
 * <p>Import ({@link #load(Path)}) builds a trainable {@link OnnxModule} from an ONNX graph, e.g.
 * one exported by {@code torch.onnx.export}: its float initializers become parameters named as in
 * the file, so fine-tuning and freezing by name prefix work; see {@link OnnxModule} for the modes
 * and {@code OnnxOps} for the ops. {@link OnnxModule#exportOnnx} writes the imported graph back
 * with the module's current (e.g. fine-tuned) weights.
 *
 * <p>The messages are protobuf classes generated at build time from this module's {@code
 * onnx.proto} ({@code org.emberdl.onnx.proto}).
 */
public final class Onnx {
  private Onnx() {}

  /** The largest model file {@link #load(Path)} reads: protobuf's 2 GiB limit. */
  public static final long MAX_MODEL_BYTES = Integer.MAX_VALUE - 8;

  /**
   * Imports the ONNX model in {@code file} as a trainable module (in eval mode). External data
   * files are read from the model's directory; their locations must stay inside it.
   *
   * @throws OnnxFormatException for a file that is not an ONNX model, an op or attribute Ember does
   *     not implement, a graph that is not a DAG, or a tensor whose data does not fill its shape;
   *     the message names the node or initializer
   * @throws IOException when the file cannot be read
   */
  public static OnnxModule load(Path file) throws IOException {
    Path abs = file.toAbsolutePath();
    byte[] bytes;
    try {
      long size = Files.size(abs);
      if (size > MAX_MODEL_BYTES) {
        // protobuf messages end at 2 GiB; larger models keep their weights in external data
        throw new OnnxFormatException(
            "ONNX model "
                + abs
                + " has "
                + size
                + " bytes, more than a protobuf file can hold ("
                + MAX_MODEL_BYTES
                + "); store large weights as external data");
      }
      bytes = Files.readAllBytes(abs);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new java.io.FileNotFoundException("ONNX model " + abs + " does not exist");
    }
    return OnnxImporter.importModel(bytes, abs.getParent(), "ONNX model " + abs);
  }

  /**
   * Imports an ONNX model from its bytes. A model with external data needs {@link #load(Path)}.
   *
   * @throws OnnxFormatException as {@link #load(Path)}
   */
  public static OnnxModule load(byte[] bytes) throws OnnxFormatException {
    return OnnxImporter.importModel(bytes, null, "ONNX model (" + bytes.length + " bytes)");
  }

  /**
   * Imports an ONNX model read to the end of {@code in} (not closed). A model with external data
   * needs {@link #load(Path)}.
   *
   * @throws OnnxFormatException as {@link #load(Path)}
   * @throws IOException when the stream fails
   */
  public static OnnxModule load(java.io.InputStream in) throws IOException {
    byte[] bytes = in.readNBytes((int) MAX_MODEL_BYTES);
    if (bytes.length == MAX_MODEL_BYTES && in.read() >= 0) {
      throw new OnnxFormatException(
          "the ONNX model stream holds more than a protobuf file can ("
              + MAX_MODEL_BYTES
              + " bytes); store large weights as external data");
    }
    return load(bytes);
  }

  // ---------------------------------------------------------------------------------------------
  // Export

  /**
   * Writes {@code model} as an ONNX file at {@code out} (replacing it) with the default options
   * (opset {@value OnnxExportOptions#DEFAULT_OPSET}, input {@code "input"}, output {@code
   * "output"}).
   *
   * @param inputShape the shape of one input batch, batch dim first, e.g. {@code {1, 3, 32, 32}};
   *     the batch dim is dynamic in the file, so its value here only has to be positive (or -1)
   * @throws IllegalArgumentException naming the module's path and class when a module has no ONNX
   *     mapping or does not accept the shape reaching it; nothing is written then
   */
  public static void export(Module model, long[] inputShape, Path out) throws IOException {
    export(model, inputShape, out, OnnxExportOptions.defaults());
  }

  /** {@link #export(Module, long[], Path)} with {@code options}. */
  public static void export(Module model, long[] inputShape, Path out, OnnxExportOptions options)
      throws IOException {
    byte[] bytes = toModelProto(model, inputShape, options).toByteArray();
    // written beside the target and moved into place: a reader never sees half a file
    Path dir = out.toAbsolutePath().getParent();
    Path tmp = Files.createTempFile(dir, out.getFileName().toString(), ".tmp");
    try {
      Files.write(tmp, bytes);
      try {
        Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** The ONNX file's bytes of {@code model}, with the default options. */
  public static byte[] exportBytes(Module model, long[] inputShape) {
    return toModelProto(model, inputShape, OnnxExportOptions.defaults()).toByteArray();
  }

  /** The ONNX model of {@code model}, with the default options. */
  public static ModelProto toModelProto(Module model, long[] inputShape) {
    return toModelProto(model, inputShape, OnnxExportOptions.defaults());
  }

  /** The ONNX model of {@code model}, with {@code options}. */
  public static ModelProto toModelProto(
      Module model, long[] inputShape, OnnxExportOptions options) {
    return OnnxExporter.export(model, inputShape, options);
  }
}
