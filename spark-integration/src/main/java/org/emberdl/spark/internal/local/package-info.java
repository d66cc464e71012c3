/**
 * One partition's work on an executor, shared by every transport: the network recipe, per-JVM
 * replicas and engine, local steps and client training, flat weights. Internal: not a public API,
 * may change without notice.
 */
package org.emberdl.spark.internal.local;
