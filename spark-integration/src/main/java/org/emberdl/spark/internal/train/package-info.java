/**
 * The driver's training loop: epochs and rounds through a {@code RoundExecutor}, server state and
 * optimizers, early stopping, privacy budget, checkpoints, progress for listeners and the Spark UI
 * tab. Internal: not a public API, may change without notice.
 */
package org.emberdl.spark.internal.train;
