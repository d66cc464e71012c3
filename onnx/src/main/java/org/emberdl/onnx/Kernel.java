package org.emberdl.onnx;

import org.emberdl.autograd.Tensor;

/**
 * A compiled ONNX node: computes its outputs from its inputs with Ember's autograd ops, so the
 * gradient flows back through it.
 */
@FunctionalInterface
interface Kernel {
  /**
   * @param in the node's inputs in order; null for an optional input left out. The kernel must not
   *     close them, nor return one of them (return a view instead: the runtime closes each output)
   * @param training whether the module is in training mode
   * @return one tensor per node output; null for an optional output nobody reads
   */
  Tensor[] run(Tensor[] in, boolean training);
}
