/**
 * DataFrame to cached training partitions: column selection and casts, client index, per-partition
 * rows (on-heap and Arrow), feature decoding, and every use of Spark's internal APIs ({@code
 * SparkInternals}, {@code SparkBlocks}). Internal: not a public API, may change without notice.
 */
package org.emberdl.spark.internal.data;
