/**
 * Params resolved into one immutable decision: the Param set and its validators, the option enums,
 * {@code TrainingPlan} with every cross-Param check, the DP-SGD plan, stage uids and schemas,
 * trusted module factories. Internal: not a public API, may change without notice.
 */
package org.emberdl.spark.internal.plan;
