package org.emberdl.onnx;

import org.emberdl.nn.Dropout;
import org.emberdl.tensor.NDArray;

/** What an {@link OpCompiler} may ask of the graph being imported. */
interface CompileContext {
  /** The default domain's opset version the model imports. */
  int opset();

  /**
   * The value of {@code name} when it is known at load time (an initializer or a Constant node's
   * output), else null. Shared with the graph: do not close.
   */
  NDArray constant(String name);

  /** True when value {@code name} is read by some node or is a graph output. */
  boolean isUsed(String name);

  /** A dropout layer registered as a child of the module (so Spark can seed its masks). */
  Dropout dropout(OnnxNode node, double p);
}
