package org.emberdl.spark.internal.plan;

import java.io.Serializable;
import org.emberdl.optim.CosineAnnealingLr;
import org.emberdl.optim.LinearWarmup;
import org.emberdl.optim.Optimizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fit's learning rate as a pure function of the optimizer step: {@code lrSchedule} after {@code
 * warmupSteps} of linear warmup. Every party that runs an optimizer (the driver, a training stage's
 * replicas, a partition's local steps, a federated client) derives its rate from the step number
 * with this function instead of stepping a scheduler, so they agree on every step's rate without
 * sending it, and a resumed fit (a checkpoint, a retried stage) continues at the right rate.
 *
 * <p>The rates are those of autograd's schedulers, computed by their closed forms ({@link
 * LinearWarmup#warmupRate}, {@link CosineAnnealingLr#rate}): bit for bit what a standalone loop
 * steps {@code new LinearWarmup(opt, warmupSteps, new CosineAnnealingLr(opt, totalSteps -
 * warmupSteps, minLr))} (or {@code new CosineAnnealingLr(opt, totalSteps, minLr)} without warmup)
 * once per optimizer step sets.
 *
 * @param name the schedule after the warmup
 * @param baseLr the {@code learningRate} Param: the rate the warmup climbs to and cosine starts at
 * @param minLr cosine's final rate ({@code minLearningRate}; unused by constant)
 * @param warmupSteps steps of linear warmup from {@code baseLr / 3} (PyTorch's {@code LinearLR}
 *     default start factor); 0 = none
 * @param totalSteps the fit's optimizer steps, {@code maxEpochs} times the steps of an epoch: the
 *     length of the whole schedule, warmup included, whether or not the fit stops early
 */
public record LrSchedule(
    LrScheduleName name, double baseLr, double minLr, int warmupSteps, long totalSteps)
    implements Serializable {
  private static final Logger LOG = LoggerFactory.getLogger(LrSchedule.class);

  /** The rate at 0-based optimizer step {@code step} of the fit. */
  public double at(long step) {
    if (step < warmupSteps) {
      return LinearWarmup.warmupRate(step, warmupSteps, LinearWarmup.DEFAULT_START_FACTOR, baseLr);
    }
    return switch (name) {
      case CONSTANT -> baseLr;
      case COSINE ->
          CosineAnnealingLr.rate(step - warmupSteps, totalSteps - warmupSteps, baseLr, minLr);
    };
  }

  /**
   * The schedule in words, for the fit's log: e.g. "cosine from 0.003 to 0.0 over 4690 steps, the
   * first 100 warming up linearly from 0.001".
   */
  public String describe() {
    String after =
        switch (name) {
          case CONSTANT -> "constant " + baseLr;
          case COSINE ->
              "cosine from " + baseLr + " to " + minLr + " over " + totalSteps + " steps";
        };
    return warmupSteps == 0
        ? after
        : after
            + (name == LrScheduleName.CONSTANT ? " after " : ", the first ")
            + warmupSteps
            + (name == LrScheduleName.CONSTANT ? " steps" : "")
            + " warming up linearly from "
            + baseLr
            + "/3";
  }

  /** Sets {@code optimizer}'s rate for step {@code step} ({@link #at}), before that step. */
  public void applyTo(Optimizer optimizer, long step) {
    double lr = at(step);
    optimizer.setLearningRate(lr);
    if (LOG.isDebugEnabled()) {
      LOG.debug("optimizer step {} at learning rate {}", step, lr);
    }
  }
}
