package org.emberdl.federated;

/**
 * What an {@link Aggregator} makes of a round's updates.
 *
 * @param kind {@link Kind#GRADIENT}: {@code values} is a gradient for the driver's optimizer;
 *     {@link Kind#DELTA}: {@code values} is added to the weights as is
 * @param values the flat gradient or delta, in the module's flat-parameter layout
 * @param buffers new values of the module's float buffers (e.g. BatchNorm running statistics), or
 *     null to leave them
 */
public record Step(Kind kind, float[] values, float[] buffers) {
  /** How the driver applies a step. */
  public enum Kind {
    GRADIENT,
    DELTA
  }
}
