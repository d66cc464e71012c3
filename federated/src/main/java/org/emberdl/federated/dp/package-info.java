/**
 * Differential-privacy accounting for DP-SGD.
 *
 * <p>{@link org.emberdl.federated.dp.RdpAccountant} tracks the Rényi differential privacy of
 * training with Poisson sampling, per-example clipping and Gaussian noise on the sum of clipped
 * gradients, and converts it to an (epsilon, delta) guarantee; it also calibrates the noise
 * multiplier for a budget. Its Javadoc states the exact mechanism the numbers are valid for.
 */
package org.emberdl.federated.dp;
