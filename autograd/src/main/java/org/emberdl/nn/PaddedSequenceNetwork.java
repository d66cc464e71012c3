package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * A {@link Sequential} over right-padded token sequences: its input is (N, T) ids, each sequence
 * followed by {@code paddingId}s up to T. It derives every sequence's length from the ids (the
 * steps before its first padding id) and passes the lengths to each {@link VariableLength} module
 * (recurrent layers stop at a sequence's end, attention and transformer layers mask the padded
 * keys, {@code meanPool} averages only its steps, {@code lastStep} takes its own last step); a
 * {@link ClsToken} makes every sequence one step longer; the first module that collapses time
 * ({@link LastStep}, {@link MeanPool}, {@link ClsPool}) ends the sequence part, and the modules
 * after it see plain rows. Position-wise modules (linear, norms, activations, positional
 * embeddings) need no lengths. Children and state-dict keys are a Sequential's ({@code 0.weight},
 * ...).
 */
public class PaddedSequenceNetwork extends Sequential {
  private final long paddingId;

  /** Modules are added afterwards with {@link #add}, the first usually the embedding. */
  public PaddedSequenceNetwork(long paddingId) {
    this.paddingId = paddingId;
  }

  public long paddingId() {
    return paddingId;
  }

  /**
   * @throws IllegalArgumentException when a sequence starts with the padding id (it would be empty)
   *     or has a token after its padding (it is not right-padded), naming the row
   */
  @Override
  public Tensor forward(Tensor input) {
    int[] lengths = lengths(input.data(), paddingId);
    Tensor x = input;
    for (Module m : this) {
      Tensor y =
          lengths != null && m instanceof VariableLength v ? v.forward(x, lengths) : m.forward(x);
      if (lengths != null && m instanceof ClsToken) {
        lengths = plusOne(lengths); // the token goes first: still right-padded, one step longer
      } else if (m instanceof LastStep || m instanceof MeanPool || m instanceof ClsPool) {
        lengths = null; // time is gone; what follows is per row
      }
      if (x != input && y != x) {
        x.close();
      }
      x = y;
    }
    return x == input ? Identity.of(input) : x;
  }

  private static int[] plusOne(int[] lengths) {
    int[] longer = new int[lengths.length];
    for (int i = 0; i < lengths.length; i++) {
      longer[i] = lengths[i] + 1;
    }
    return longer;
  }

  /**
   * Each row's length: the number of steps before its first {@code paddingId}. One comparison and
   * one row sum on the ids' device; only N lengths (and, on error, the ids) come to the heap.
   *
   * @param ids (N, T) token ids, float or integer
   */
  static int[] lengths(NDArray ids, long paddingId) {
    if (ids.ndim() != 2) {
      throw new IllegalArgumentException(
          "a padded token sequence batch must be (batch, time) ids, got shape "
              + java.util.Arrays.toString(ids.shape()));
    }
    int n = ids.shape()[0];
    int t = ids.shape()[1];
    int[] lengths;
    boolean rightPadded;
    try (NDArray isReal = ids.ne(paddingId);
        NDArray real = isReal.cast(DType.INT32);
        NDArray counts = real.sum(new int[] {1}, false)) {
      lengths = counts.toIntArray();
      // right padding: no real token after a padding one, i.e. real[:, s+1] <= real[:, s]
      if (t < 2) {
        rightPadded = true;
      } else {
        try (NDArray next = real.narrow(1, 1, t - 1);
            NDArray prev = real.narrow(1, 0, t - 1);
            NDArray rise = next.gt(prev);
            NDArray any = rise.any()) {
          rightPadded = any.item() == 0;
        }
      }
    }
    if (rightPadded) {
      for (int i = 0; i < n; i++) {
        if (lengths[i] == 0) {
          throw new IllegalArgumentException(
              "token sequence "
                  + i
                  + " is empty: it starts with the padding id "
                  + paddingId
                  + " (sequences need at least one token)");
        }
      }
      return lengths;
    }
    double[] v = ids.toDoubleArray();
    for (int i = 0; i < n; i++) {
      for (int s = 1; s < t; s++) {
        if (v[i * t + s] != paddingId && v[i * t + s - 1] == paddingId) {
          throw new IllegalArgumentException(
              "token sequence "
                  + i
                  + " has token "
                  + (long) v[i * t + s]
                  + " at step "
                  + s
                  + " after the padding id "
                  + paddingId
                  + "; sequences must be right-padded (all padding at the end)");
        }
      }
    }
    throw new AssertionError("padding out of order but no row found");
  }

  @Override
  public String toString() {
    return super.toString()
        .replaceFirst("^Sequential\\(", "PaddedSequenceNetwork(paddingId=" + paddingId + ",");
  }
}
