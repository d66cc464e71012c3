package org.emberdl.nn;

import java.util.List;
import org.emberdl.tensor.NDArray;

/**
 * Every parameter of a module, and every gradient, as one contiguous 1-D buffer each (llm.c's "all
 * parameters at once"). An update for the whole model is then one array: the Spark coordinator
 * averages it, the privacy code clips and noises it, a checkpoint writes it. The parameters' own
 * data and grads are views into these buffers, in {@link Module#parameters()} order.
 *
 * @param values all parameter values, concatenated
 * @param grads all gradients, concatenated (zeros until a backward pass writes them)
 * @param offsets start of each parameter in the buffers
 * @param sizes element count of each parameter
 */
public record FlatParameters(NDArray values, NDArray grads, List<Long> offsets, List<Long> sizes) {
  /** Total number of parameter elements. */
  public long numel() {
    return values.numel();
  }
}
