/**
 * Random number generation for Ember.
 *
 * <p>{@link org.emberdl.tensor.random.Philox} is a counter-based generator (Philox4x32-10): every
 * value is a pure function of (seed, stream, position), so tensors can be filled in parallel, in
 * any order and in any split, with the same result as a sequential fill.
 */
package org.emberdl.tensor.random;
