/**
 * Ember's Spark implementation, split by role into sub-packages (plan, data, train, local, rounds,
 * stage, infer, io). Internal: not a public API, may change without notice; users import only
 * {@code org.emberdl.spark}.
 */
package org.emberdl.spark.internal;
