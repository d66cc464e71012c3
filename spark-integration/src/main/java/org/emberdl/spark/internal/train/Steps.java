package org.emberdl.spark.internal.train;

import org.emberdl.federated.Step;
import org.emberdl.nn.Gradients;
import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.internal.local.FrozenParameters;
import org.emberdl.spark.internal.local.ModuleBuffers;
import org.emberdl.spark.internal.plan.LrSchedule;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * How an aggregated {@link Step} changes a model: the one code path of the driver's state ({@link
 * ServerState}) and of the replicas of a training stage whose tasks apply the steps themselves, so
 * that both reach the same bits.
 */
public final class Steps {
  private Steps() {}

  /**
   * Applies {@code step} to {@code model}: {@code optimizer}'s step on a gradient, an addition on a
   * delta, then the step's buffers (when it has any). The slots of the model's frozen parameters
   * ({@code frozenPrefixes}) are zeroed in the step first (in place): the optimizer leaves them
   * alone, and a delta carrying noise (dp-fedavg) must not move them either.
   *
   * <p>A gradient step is taken at the rate {@code schedule} gives its global step {@code
   * globalStep} (the fit's 0-based optimizer step): derived from the step number, so the driver and
   * every replica set the same rate without it travelling, and a resumed fit goes on at the right
   * one.
   */
  public static void apply(
      Module model, Optimizer optimizer, Step step, LrSchedule schedule, long globalStep) {
    long[] frozen = FrozenParameters.flatRanges(model);
    if (frozen.length > 0) {
      FrozenParameters.zeroFrozen(step.values(), frozen);
    }
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray values = NDArray.of(step.values(), step.values().length);
      if (step.kind() == Step.Kind.GRADIENT) {
        schedule.applyTo(optimizer, globalStep);
        try (Gradients g = Gradients.fromFlat(model, values)) {
          optimizer.step(g);
        }
      } else {
        model.flatParameters().values().addInPlace(values);
      }
    }
    if (step.buffers() != null) {
      ModuleBuffers.write(model, step.buffers());
    }
  }
}
