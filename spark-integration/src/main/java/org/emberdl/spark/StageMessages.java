package org.emberdl.spark;

import java.io.Serializable;
import org.emberdl.federated.Update;

/** What a training stage's tasks and the driver's {@link StageEndpoint} say to each other. */
final class StageMessages {
  private StageMessages() {}

  /** A task of stage attempt {@code stageAttempt} starts; the reply is a {@link Resume}. */
  record Register(int partition, int stageAttempt) implements Serializable {}

  /** Where a task starts: the epoch's first step not yet applied, and the weights before it. */
  record Resume(int step, RoundWeights weights) implements Serializable {}

  /** A partition's update for {@code step}; the reply is the weights after that step. */
  record Submit(int partition, int stageAttempt, int step, Update update) implements Serializable {}
}
