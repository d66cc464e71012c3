package org.emberdl.optim;

/**
 * Changes an optimizer's learning rate over training, as {@code torch.optim.lr_scheduler}.
 *
 * <p>When to call {@link #step()}: once after the optimizer's step, at the granularity the schedule
 * is measured in. For a schedule in epochs ({@code StepLr(opt, 30, 0.1)}: divide by 10 every 30
 * epochs) call it once at the end of each epoch; for one in iterations (warmup over 500 steps,
 * cosine over the run's total steps) call it after every {@code optimizer.step()}. Construction
 * sets the learning rate for epoch (or iteration) 0, so the first optimizer step already uses the
 * schedule's first value:
 *
 * <pre>{@code
 * LrScheduler sched = new LinearWarmup(opt, 500, new CosineAnnealingLr(opt, totalSteps - 500, 0));
 * for (Batch b : loader) {
 *   opt.zeroGrad();
 *   ... loss.backward();
 *   opt.step();
 *   sched.step();
 * }
 * }</pre>
 *
 * A scheduler remembers the optimizer's learning rate when it is built as its base rate.
 */
public interface LrScheduler {
  /** Advances one epoch (or iteration) and sets the optimizer's learning rate for it. */
  void step();

  /** The learning rate this scheduler set last. */
  double lastLr();

  /**
   * How many times {@link #step()} has run (PyTorch's {@code last_epoch}; 0 after construction).
   */
  int lastEpoch();
}
