package org.emberdl.spark.internal.train;

/**
 * One round of training: round {@code round} (0-based) of epoch {@code epoch}, the {@code
 * globalRound}-th of the fit, over the {@code sampled} clients (null when not federated).
 */
public record Round(int epoch, int round, long globalRound, boolean[] sampled) {}
