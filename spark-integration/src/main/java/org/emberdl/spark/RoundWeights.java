package org.emberdl.spark;

import java.io.Serializable;

/**
 * What the driver broadcasts each round: the flat parameters (layout of {@code
 * Module.flatParameters()}) and the float buffers (layout of {@link ModuleBuffers}).
 */
record RoundWeights(float[] values, float[] buffers) implements Serializable {}
