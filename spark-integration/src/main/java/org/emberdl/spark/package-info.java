/**
 * Ember's Spark ML API: the estimators ({@link org.emberdl.spark.EmberClassifier}, {@link
 * org.emberdl.spark.EmberRegressor}), their fitted models, the Params, the user-network SPI ({@link
 * org.emberdl.spark.ModuleFactory}) and the training results and progress callbacks. This is the
 * only package users import; {@code org.emberdl.spark.internal.*} is the implementation and may
 * change without notice.
 */
package org.emberdl.spark;
