/**
 * The barrier-stage transport ({@code executionMode=stage}): long-lived tasks exchanging each
 * step's update with the driver over Spark RPC and the block manager. Internal: not a public API,
 * may change without notice.
 */
package org.emberdl.spark.internal.stage;
