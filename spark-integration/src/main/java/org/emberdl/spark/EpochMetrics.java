package org.emberdl.spark;

import java.io.Serializable;

/**
 * One epoch of training as the coordinator saw it.
 *
 * @param epoch 1-based
 * @param loss mean training loss over the epoch's examples (as computed during the epoch's steps)
 * @param accuracy training accuracy over the epoch's steps (NaN for regression)
 * @param samplesPerSecond training examples per second of wall time, coordination included
 * @param validationLoss mean loss on the held-out rows after the epoch (NaN without validation)
 * @param validationAccuracy accuracy on the held-out rows (NaN without validation or for
 *     regression)
 * @param seconds wall time of the epoch
 * @param epsilon the privacy budget spent so far (at the stage's {@code delta}) under DP training,
 *     NaN otherwise
 */
public record EpochMetrics(
    int epoch,
    double loss,
    double accuracy,
    double samplesPerSecond,
    double validationLoss,
    double validationAccuracy,
    double seconds,
    double epsilon)
    implements Serializable {}
