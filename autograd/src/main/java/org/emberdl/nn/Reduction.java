package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/** How a loss combines its per-element values, as PyTorch's {@code reduction} argument. */
public enum Reduction {
  /** The mean over elements (for class-index losses with weights: the weighted mean). */
  MEAN,
  /** The sum over elements. */
  SUM,
  /** No reduction: one loss per element, shaped like the target. */
  NONE;

  /**
   * Reduces {@code perElement} by SUM or MEAN (plain mean), closing it; NONE returns it as is.
   * Closing the intermediate is safe: the reduction's backward keeps what it needs.
   */
  Tensor reduce(Tensor perElement) {
    return switch (this) {
      case NONE -> perElement;
      case SUM -> {
        try (perElement) {
          yield perElement.sum();
        }
      }
      case MEAN -> {
        try (perElement) {
          yield perElement.mean();
        }
      }
    };
  }
}
