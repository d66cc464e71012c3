package org.emberdl.spark;

/** The {@code aggregation} Param: how the partitions' updates become a step. */
enum Aggregation implements ParamValue {
  /** Synchronous SGD (model averaging with localSteps > 1). */
  SYNC("sync"),
  /** Federated averaging: sampled clients train localEpochs, the server averages their deltas. */
  FEDAVG("fedavg"),
  /** FedAvg with a proximal term on the local loss. */
  FEDPROX("fedprox"),
  /** Example-level differential privacy. */
  DP_SGD("dp-sgd"),
  /** Client-level differential privacy over federated rounds. */
  DP_FEDAVG("dp-fedavg");

  private final String paramValue;

  Aggregation(String paramValue) {
    this.paramValue = paramValue;
  }

  @Override
  public String paramValue() {
    return paramValue;
  }

  static String[] names() {
    return ParamValue.names(values());
  }

  static Aggregation of(String value) {
    return ParamValue.parse(values(), "aggregation", value);
  }

  static Aggregation of(EmberParams<?> p) {
    return of(p.getAggregation());
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
    return paramValue;
  }
}
