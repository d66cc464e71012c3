package org.emberdl.onnx;

import java.util.Objects;
import org.emberdl.onnx.export.LayerExporters;

/**
 * How {@link Onnx#export} writes a model: the operator set version, the graph's input and output
 * names, and which {@link LayerExporters} turn modules into nodes.
 *
 * @param opset the default-domain operator set, {@value #MIN_OPSET} to {@value #MAX_OPSET}
 * @param inputName the graph input's name ({@code "input"})
 * @param outputName the graph output's name ({@code "output"})
 * @param exporters the exporter of each module class
 */
public record OnnxExportOptions(
    int opset, String inputName, String outputName, LayerExporters exporters) {
  /**
   * Opset 18 (ONNX 1.13): PyTorch 2's exporter default, read by ONNX Runtime 1.14 and later and by
   * the serving stacks built on it.
   */
  public static final int DEFAULT_OPSET = 18;

  /** LayerNormalization, which LayerNorm exports to, needs opset 17. */
  public static final int MIN_OPSET = 17;

  /** The newest opset whose operators this exporter has been checked against. */
  public static final int MAX_OPSET = 22;

  public OnnxExportOptions {
    if (opset < MIN_OPSET || opset > MAX_OPSET) {
      throw new IllegalArgumentException(
          "opset must be in [" + MIN_OPSET + ", " + MAX_OPSET + "], got " + opset);
    }
    Objects.requireNonNull(exporters, "exporters");
    if (inputName == null || inputName.isEmpty() || outputName == null || outputName.isEmpty()) {
      throw new IllegalArgumentException("input and output names must be non-empty");
    }
    if (inputName.equals(outputName)) {
      throw new IllegalArgumentException(
          "input and output names must differ, both are '" + inputName + "'");
    }
  }

  /** Opset 18, {@code "input"} and {@code "output"}, Ember's layers. */
  public static OnnxExportOptions defaults() {
    return new OnnxExportOptions(DEFAULT_OPSET, "input", "output", LayerExporters.defaults());
  }

  public OnnxExportOptions withOpset(int newOpset) {
    return new OnnxExportOptions(newOpset, inputName, outputName, exporters);
  }

  public OnnxExportOptions withNames(String newInputName, String newOutputName) {
    return new OnnxExportOptions(opset, newInputName, newOutputName, exporters);
  }

  public OnnxExportOptions withExporters(LayerExporters newExporters) {
    return new OnnxExportOptions(opset, inputName, outputName, newExporters);
  }
}
