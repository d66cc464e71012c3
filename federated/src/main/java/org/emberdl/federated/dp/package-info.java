/**
 * Differential privacy for training: DP-SGD's per-example clipping and noise, and its accounting.
 *
 * <p>{@link org.emberdl.federated.dp.DpSgd} computes one step's noisy gradient: Poisson sampling,
 * each example's gradient clipped to norm {@code C} (ghost clipping for MLPs, materialised
 * per-example gradients otherwise), Gaussian noise {@code N(0, sigma^2 C^2)} added once to the sum,
 * divided by the expected batch size.
 *
 * <p>{@link org.emberdl.federated.dp.RdpAccountant} tracks the Rényi differential privacy of
 * training with Poisson sampling, per-example clipping and Gaussian noise on the sum of clipped
 * gradients, and converts it to an (epsilon, delta) guarantee; it also calibrates the noise
 * multiplier for a budget. Its Javadoc states the exact mechanism the numbers are valid for.
 */
package org.emberdl.federated.dp;
