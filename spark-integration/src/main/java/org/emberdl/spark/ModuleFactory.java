package org.emberdl.spark;

import org.emberdl.nn.Module;
import org.emberdl.tensor.Generator;

/**
 * Builds a user-defined network for an Ember stage ({@code setModuleFactory(className)}). The class
 * needs a public no-argument constructor and must be on the executors' classpath (e.g. in the
 * application jar). Only the class name is saved with a model. Loading such a model instantiates
 * the class (on the driver and the executors), so a model file could otherwise make any class on
 * the classpath run: loading refuses a factory unless its name is listed in {@code
 * spark.ember.trustedModuleFactories} (comma-separated), and even then the class is loaded without
 * initialization and must implement this interface before any of its code runs. Fitting with a
 * factory needs no listing: the caller named the class.
 */
public interface ModuleFactory {
  /**
   * A new network with freshly initialized weights.
   *
   * @param inputShape the shape of one example (the stage's {@code inputShape})
   * @param gen the source of initial weights and dropout masks
   */
  Module create(int[] inputShape, Generator gen);
}
