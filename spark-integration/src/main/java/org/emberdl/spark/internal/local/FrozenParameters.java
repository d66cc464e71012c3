package org.emberdl.spark.internal.local;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;

/**
 * The {@code frozenPrefixes} Param: parameters whose state-dict key starts with one of the prefixes
 * get {@code requiresGrad(false)} in every replica (the driver's and each task's), so optimizers
 * leave them unchanged, and {@link #zeroFrozen} clears their slots of an aggregated step, so a
 * delta carrying noise (dp-fedavg) cannot move them either. Both replicas are built by {@link
 * NetworkDefinition#build}, so the stage and rounds paths freeze the same parameters.
 */
public final class FrozenParameters {
  private FrozenParameters() {}

  /**
   * Freezes the parameters of {@code module} matching {@code prefixes}.
   *
   * @throws IllegalArgumentException when a prefix matches no parameter, or every parameter would
   *     be frozen, naming frozenPrefixes and the network's parameter names
   */
  static void freeze(Module module, String[] prefixes, Object network) {
    if (prefixes.length == 0) {
      return;
    }
    Map<String, Parameter> named = module.namedParameters();
    for (String prefix : prefixes) {
      if (named.keySet().stream().noneMatch(k -> k.startsWith(prefix))) {
        throw new IllegalArgumentException(
            "frozenPrefixes: '"
                + prefix
                + "' is the prefix of no parameter of the network "
                + network
                + "; its parameters are "
                + named.keySet());
      }
    }
    int frozen = 0;
    for (Map.Entry<String, Parameter> e : named.entrySet()) {
      if (matches(e.getKey(), prefixes)) {
        e.getValue().requiresGrad(false);
        frozen++;
      }
    }
    if (frozen == named.size()) {
      throw new IllegalArgumentException(
          "frozenPrefixes "
              + Arrays.toString(prefixes)
              + " freeze every parameter of the network "
              + network
              + "; nothing would train");
    }
  }

  static boolean matches(String key, String[] prefixes) {
    for (String p : prefixes) {
      if (key.startsWith(p)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The [offset, offset + size) ranges of {@code module}'s frozen parameters in its flat layout
   * ({@link Module#flatParameters()}), as pairs; empty when none is frozen.
   */
  public static long[] flatRanges(Module module) {
    List<Parameter> params = module.parameters();
    List<Long> offsets = module.flatParameters().offsets();
    List<Long> sizes = module.flatParameters().sizes();
    List<long[]> ranges = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      if (!params.get(i).requiresGrad()) {
        ranges.add(new long[] {offsets.get(i), sizes.get(i)});
      }
    }
    long[] out = new long[ranges.size() * 2];
    for (int i = 0; i < ranges.size(); i++) {
      out[2 * i] = ranges.get(i)[0];
      out[2 * i + 1] = ranges.get(i)[1];
    }
    return out;
  }

  /** Zeroes the frozen slots of a flat step, in place. */
  public static void zeroFrozen(float[] step, long[] ranges) {
    for (int i = 0; i < ranges.length; i += 2) {
      Arrays.fill(step, (int) ranges[i], (int) (ranges[i] + ranges[i + 1]), 0f);
    }
  }
}
