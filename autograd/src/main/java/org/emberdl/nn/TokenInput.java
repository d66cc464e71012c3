package org.emberdl.nn;

import java.io.Serializable;

/**
 * What a network whose first layer is an embedding takes as input: token ids in {@code [0,
 * vocabulary)}, and, when {@code paddingId >= 0}, sequences right-padded with that id (the steps
 * before its first occurrence are the sequence). Readers check rows against it.
 *
 * @param vocabulary the table's rows, at most {@link TokenEmbedding#MAX_FLOAT_VOCABULARY}
 * @param paddingId the padding id in {@code [0, vocabulary)}, or -1 for fixed-length sequences
 */
public record TokenInput(int vocabulary, int paddingId) implements Serializable {
  public boolean padded() {
    return paddingId >= 0;
  }
}
