/**
 * Round transports: one Spark job per round (broadcast, map over partitions, sum in partition
 * order) and secure aggregation (one job per protocol step). Internal: not a public API, may change
 * without notice.
 */
package org.emberdl.spark.internal.rounds;
