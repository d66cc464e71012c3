package org.emberdl.spark;

import org.emberdl.nn.Module;
import org.emberdl.tensor.Generator;

/**
 * Builds a user-defined network for an Ember stage ({@code setModuleFactory(className)}). The class
 * needs a public no-argument constructor and must be on the executors' classpath (e.g. in the
 * application jar). Only the class name is saved with a model; loading a model instantiates it, so
 * load models only with factories you trust, as with any class on the classpath.
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
