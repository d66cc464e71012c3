package org.emberdl.spark.internal.plan;

import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.emberdl.spark.EmberParams;

/** The {@code aggregation} Param: how the partitions' updates become a step. */
public enum Aggregation implements ParamValue {
  /** Synchronous SGD (model averaging with localSteps > 1). */
  SYNC,
  /** Federated averaging: sampled clients train localEpochs, the server averages their deltas. */
  FEDAVG,
  /** FedAvg with a proximal term on the local loss. */
  FEDPROX,
  /** Example-level differential privacy. */
  DP_SGD,
  /** Client-level differential privacy over federated rounds. */
  DP_FEDAVG;

  static String[] names() {
    return ParamValue.names(values());
  }

  static Aggregation of(String value) {
    return ParamValue.parse(values(), "aggregation", value);
  }

  static Aggregation of(EmberParams<?> p) {
    return of(p.getAggregation());
  }

  /** The aggregations that {@code test} holds for, in declaration order. */
  static Set<Aggregation> where(Predicate<Aggregation> test) {
    EnumSet<Aggregation> out = EnumSet.noneOf(Aggregation.class);
    for (Aggregation a : values()) {
      if (test.test(a)) {
        out.add(a);
      }
    }
    return Collections.unmodifiableSet(out);
  }

  /** The Param values of {@code aggregations} as words: "a", "a and b", "a, b and c". */
  static String list(Set<Aggregation> aggregations, String conjunction) {
    List<String> names = aggregations.stream().map(Aggregation::paramValue).toList();
    int last = names.size() - 1;
    return last <= 0
        ? String.join("", names)
        : String.join(", ", names.subList(0, last)) + " " + conjunction + " " + names.get(last);
  }

  /** Whether clients train locally for whole rounds (one round per "epoch"). */
  boolean federated() {
    return switch (this) {
      case FEDAVG, FEDPROX, DP_FEDAVG -> true;
      case SYNC, DP_SGD -> false;
    };
  }

  /** Whether the fit trains with differential privacy (DpPlan). */
  boolean differentiallyPrivate() {
    return switch (this) {
      case DP_SGD, DP_FEDAVG -> true;
      case SYNC, FEDAVG, FEDPROX -> false;
    };
  }

  /**
   * Whether the fit may run as one barrier stage; the federated aggregations (client sampling,
   * local epochs) always run in rounds, whatever executionMode says (documented on the Param).
   */
  boolean canRunAsStage() {
    return !federated();
  }

  @Override
  public String toString() {
    return paramValue();
  }
}
