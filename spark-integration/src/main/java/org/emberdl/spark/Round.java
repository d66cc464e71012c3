package org.emberdl.spark;

/**
 * One round of training: round {@code round} (0-based) of epoch {@code epoch}, the {@code
 * globalRound}-th of the fit, over the {@code sampled} clients (null when not federated).
 */
record Round(int epoch, int round, long globalRound, boolean[] sampled) {}
