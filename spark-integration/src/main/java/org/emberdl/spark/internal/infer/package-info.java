/**
 * Batched and single-row inference for the fitted models' transform and predict. Internal: not a
 * public API, may change without notice.
 */
package org.emberdl.spark.internal.infer;
