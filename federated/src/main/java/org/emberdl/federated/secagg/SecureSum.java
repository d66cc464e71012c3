package org.emberdl.federated.secagg;

import java.util.SortedSet;

/**
 * What the server learns at the end of a round: the sum of the surviving clients' updates.
 *
 * @param values the sum decoded to floats (within {@link FixedPointCodec#sumErrorBound} plus one
 *     float rounding of the exact sum of the contributors' values, noise included)
 * @param encodedSum the exact ring sum of the contributors' encoded values (owned by this record)
 * @param contributors whose updates are in the sum ({@code U3})
 * @param dropped clients that shared keys but sent no masked input ({@code U2 \ U3}); their
 *     pairwise masks were removed with their reconstructed keys
 */
public record SecureSum(
    float[] values,
    long[] encodedSum,
    SortedSet<Integer> contributors,
    SortedSet<Integer> dropped) {}
