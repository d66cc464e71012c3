package org.emberdl.spark.internal.plan;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.ModuleFactory;

/**
 * Which {@link ModuleFactory} classes a loaded model may name: only those the session lists in
 * {@code spark.ember.trustedModuleFactories}, since instantiating one runs its code.
 */
public final class TrustedFactories {
  /** Classes a loaded model's {@code moduleFactory} may name (comma-separated; none by default). */
  public static final String CONF = "spark.ember.trustedModuleFactories";

  private TrustedFactories() {}

  /**
   * Refuses a {@code moduleFactory} that the session has not listed as trusted: instantiating it
   * runs its code (static initializer, constructor, {@code create}) on the driver and on every
   * executor, so model files must not be able to name arbitrary classes.
   */
  public static void check(SparkSession spark, String factoryClass, String path) {
    Set<String> trusted =
        Arrays.stream(spark.conf().get(CONF, "").split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .collect(Collectors.toSet());
    if (!trusted.contains(factoryClass)) {
      throw new IllegalArgumentException(
          "the model at "
              + path
              + " names moduleFactory "
              + factoryClass
              + "; loading it would run that class's code on the driver and the executors, so"
              + " Ember loads it only when the class is trusted: if you trust the model and the"
              + " class, set "
              + CONF
              + "="
              + factoryClass
              + " (a comma-separated list of class names; spark.conf().set or --conf)");
    }
  }
}
