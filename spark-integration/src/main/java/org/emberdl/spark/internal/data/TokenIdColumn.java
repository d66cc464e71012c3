package org.emberdl.spark.internal.data;

import java.io.Serializable;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.emberdl.nn.TokenEmbedding;
import org.emberdl.nn.TokenInput;

/**
 * How an {@code array<int>} or {@code array<long>} features column is read into the float data
 * plane: each id is checked and stored as a float32 (exact, since ids are below 2^24), so the Arrow
 * buffers, batch gathers and DP clipping see floats as for any other column, and the network's
 * embedding turns them back into int64. Works on both Spark paths: a Catalyst row's {@code
 * ArrayData} and a columnar batch's {@code ColumnarArray} (an {@code ArrayData} too).
 *
 * <p>With a token network ({@link TokenInput}): ids must lie in {@code [0, vocabulary)}; with a
 * padding id, a row may be shorter than the sequence length and is right-padded with that id, it
 * must not be empty, and no id may follow a padding id. Without one (plain integer features), a
 * value must be exact in float32: {@code |v| <= 2^24}.
 */
final class TokenIdColumn implements Serializable {
  private static final long serialVersionUID = 1L;

  private final boolean longs;
  private final int size;
  private final long low;
  private final long high; // exclusive
  private final int paddingId; // -1: none

  TokenIdColumn(boolean longs, int size, TokenInput tokens) {
    this.longs = longs;
    this.size = size;
    if (tokens == null) {
      this.low = -TokenEmbedding.MAX_FLOAT_VOCABULARY;
      this.high = TokenEmbedding.MAX_FLOAT_VOCABULARY + 1L;
      this.paddingId = -1;
    } else {
      this.low = 0;
      this.high = tokens.vocabulary();
      this.paddingId = tokens.paddingId();
    }
  }

  boolean isTokens() {
    return low == 0;
  }

  /** What a valid row holds, for the invalid-row message. */
  String expected() {
    if (!isTokens()) {
      return size + " integers of magnitude at most 2^24 (exact in float32)";
    }
    return (paddingId >= 0 ? "at most " : "")
        + size
        + " token ids in [0, "
        + high
        + ")"
        + (paddingId >= 0 ? ", right-padded with " + paddingId : "");
  }

  /**
   * Copies {@code a} (no null elements) into {@code dst[offset, offset + size)} as floats.
   *
   * @return null when valid, else what is wrong (naming the value and its position)
   */
  String copy(ArrayData a, float[] dst, int offset) {
    int n = a.numElements();
    if (n > size || (n < size && paddingId < 0)) {
      return "features have length "
          + n
          + ", expected "
          + (paddingId >= 0 ? "at most " : "")
          + size;
    }
    int firstPad = -1;
    for (int j = 0; j < n; j++) {
      long v = longs ? a.getLong(j) : a.getInt(j);
      if (v < low || v >= high) {
        return isTokens()
            ? "token id " + v + " at position " + j + " is outside the vocabulary [0, " + high + ")"
            : "value " + v + " at position " + j + " is not exact in float32 (|v| > 2^24)";
      }
      if (paddingId >= 0) {
        if (v == paddingId) {
          if (firstPad < 0) {
            firstPad = j;
          }
        } else if (firstPad >= 0) {
          return "token id "
              + v
              + " at position "
              + j
              + " follows the padding id "
              + paddingId
              + " at position "
              + firstPad
              + "; sequences must be right-padded";
        }
      }
      dst[offset + j] = v;
    }
    if (paddingId >= 0) {
      if (n == 0 || firstPad == 0) {
        return "the token sequence is empty (no id before the padding id " + paddingId + ")";
      }
      java.util.Arrays.fill(dst, offset + n, offset + size, paddingId);
    }
    return null;
  }
}
