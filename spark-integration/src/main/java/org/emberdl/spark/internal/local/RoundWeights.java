package org.emberdl.spark.internal.local;

import java.io.Serializable;

/**
 * What the driver broadcasts each round: the flat parameters (layout of {@code
 * Module.flatParameters()}) and the float buffers (layout of {@link ModuleBuffers}).
 */
public record RoundWeights(float[] values, float[] buffers) implements Serializable {}
