package org.emberdl.onnx;

/** Turns one node into a {@link Kernel}, checking its attributes when the model is loaded. */
@FunctionalInterface
interface OpCompiler {
  Kernel compile(OnnxNode node, CompileContext cc) throws OnnxFormatException;
}
