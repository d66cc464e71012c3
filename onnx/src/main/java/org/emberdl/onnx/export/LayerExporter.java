package org.emberdl.onnx.export;

import org.emberdl.nn.Module;

/**
 * Writes one kind of module into the graph being exported: the ONNX nodes computing the module's
 * eval-mode {@code forward} on {@code input}, with its parameters as initializers named after their
 * state-dict keys ({@link ExportContext#parameter}). Returns the output value, with its shape.
 *
 * @param <M> the module class it exports
 */
@FunctionalInterface
public interface LayerExporter<M extends Module> {
  /**
   * @throws IllegalArgumentException (best made with {@link ExportContext#error}) when this module,
   *     or this input, has no ONNX equivalent
   */
  OnnxValue export(M module, OnnxValue input, ExportContext ctx);
}
