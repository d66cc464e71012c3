package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;

/**
 * The shared body of {@link CrossEntropyLoss} and {@link NLLLoss}: argument checks and the
 * weighted, smoothed negative log-likelihood of class indices, composed from Tensor ops so that
 * autograd supplies the gradient.
 *
 * <p>With log-probabilities {@code lp} (classes along dim 1), target class {@code y_n}, class
 * weights {@code w} (all 1 when absent) and {@code m_n = 0} where {@code y_n == ignoreIndex} (else
 * 1), the per-element loss is PyTorch's
 *
 * <pre>
 *   l_n = (1 - eps) * m_n * w[y_n] * (-lp[n, y_n])  +  (eps / C) * m_n * sum_c w[c] * (-lp[n, c])
 * </pre>
 *
 * and MEAN divides the sum of {@code l_n} by {@code sum_n m_n * w[y_n]} (a weighted mean, as {@code
 * torch.nn.functional.nll_loss}; NaN when every element is ignored, as in PyTorch).
 */
final class ClassIndexLoss {
  private ClassIndexLoss() {}

  /**
   * The loss of {@code input} (logits when {@code fromLogits}, else log-probabilities) of shape (N,
   * C, d1, ...) or (C), against class indices of shape (N, d1, ...) or ().
   */
  static Tensor apply(
      String loss,
      Tensor input,
      NDArray target,
      NDArray weight,
      long ignoreIndex,
      double smoothing,
      Reduction reduction,
      boolean fromLogits) {
    if (!input.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException(loss + " expects a floating input, got " + input.dtype());
    }
    if (target.dtype() != DType.INT64 && target.dtype() != DType.INT32) {
      throw new IllegalArgumentException(
          loss
              + " expects class indices of dtype int64 or int32, got "
              + target.dtype()
              + " (class probabilities are not supported)");
    }
    if (input.ndim() == 0) {
      throw new IllegalArgumentException(loss + " needs an input of shape (N, C) or (C), got ()");
    }
    Device device = input.device();
    if (!target.device().equals(device) || (weight != null && !weight.device().equals(device))) {
      // labels and class weights usually come from the host: copied to the input's device (they
      // are small), as the kernels read all operands from one device
      try (NDArray t = target.to(device);
          NDArray w = weight == null ? null : weight.to(device)) {
        return apply(loss, input, t, w, ignoreIndex, smoothing, reduction, fromLogits);
      }
    }
    if (input.ndim() == 1) {
      // unbatched: (C) with a 0-d target, computed as a batch of one
      if (target.ndim() != 0) {
        throw new IllegalArgumentException(
            loss
                + ": an unbatched input of shape "
                + Arrays.toString(input.shape())
                + " needs a 0-d target, got shape "
                + Arrays.toString(target.shape()));
      }
      try (Tensor batched = input.unsqueeze(0);
          NDArray t = target.reshape(1)) {
        Tensor out = apply(loss, batched, t, weight, ignoreIndex, smoothing, reduction, fromLogits);
        if (reduction != Reduction.NONE) {
          return out;
        }
        try (out) {
          return out.reshape();
        }
      }
    }
    checkShapes(loss, input.shape(), target.shape());
    int classes = input.shape(1);
    if (weight != null && (weight.ndim() != 1 || weight.shape(0) != classes)) {
      throw new IllegalArgumentException(
          loss
              + ": weight must have shape ["
              + classes
              + "] (one per class), got "
              + Arrays.toString(weight.shape()));
    }
    DType dtype = input.dtype();
    try (NDArray ignored = target.eq(ignoreIndex)) {
      checkRange(loss, target, ignored, classes, ignoreIndex);
      boolean anyIgnored = anyTrue(ignored);
      try (NDArray safe = target.maskedFill(ignored, 0);
          NDArray index = safe.unsqueeze(1);
          Tensor logProbs = fromLogits ? input.logSoftmax(1) : null) {
        Tensor lp = fromLogits ? logProbs : input;
        Tensor perElement;
        // per-element weight w[y_n] * m_n; null means all ones (no weight, nothing ignored)
        try (NDArray elementWeight =
                weight != null || anyIgnored ? elementWeights(weight, safe, ignored, dtype) : null;
            Tensor picked = lp.gather(1, index);
            Tensor pickedFlat = picked.squeeze(1)) {
          Tensor nll = weighted(pickedFlat, elementWeight, -(1 - smoothing));
          perElement =
              smoothing > 0
                  ? addSmoothing(nll, lp, weight, ignored, anyIgnored, smoothing / classes)
                  : nll;
          if (reduction == Reduction.MEAN) {
            // the weighted mean divides by the total weight, not the element count
            double total = elementWeight == null ? (double) target.numel() : sumOf(elementWeight);
            try (perElement;
                Tensor sum = perElement.sum()) {
              return sum.div(total);
            }
          }
        }
        return reduction.reduce(perElement);
      }
    }
  }

  /** {@code scale * picked * elementWeight} (elementWeight null = ones). */
  private static Tensor weighted(Tensor picked, NDArray elementWeight, double scale) {
    if (elementWeight == null) {
      return picked.mul(scale);
    }
    try (Tensor w = Tensor.of(elementWeight.mul(scale))) {
      return picked.mul(w);
    }
  }

  /** {@code nll + share * m_n * sum_c w[c] * (-lp[n, c])}; closes {@code nll}. */
  private static Tensor addSmoothing(
      Tensor nll, Tensor lp, NDArray weight, NDArray ignored, boolean anyIgnored, double share) {
    try (nll) {
      Tensor classSum;
      if (weight == null) {
        classSum = lp.sum(new int[] {1}, false);
      } else {
        int[] shape = new int[lp.ndim()];
        Arrays.fill(shape, 1);
        shape[1] = weight.shape(0);
        try (NDArray wc = weight.cast(lp.dtype());
            Tensor w = Tensor.of(wc.reshape(shape));
            Tensor lw = lp.mul(w)) {
          classSum = lw.sum(new int[] {1}, false);
        }
      }
      try (classSum;
          Tensor masked = anyIgnored ? classSum.maskedFill(ignored, 0) : null;
          Tensor scaled = (anyIgnored ? masked : classSum).mul(-share)) {
        return nll.add(scaled);
      }
    }
  }

  /** {@code w[y_n]} (or 1) with zeros where the target is ignored, in {@code dtype}. */
  private static NDArray elementWeights(
      NDArray weight, NDArray safeTarget, NDArray ignored, DType dtype) {
    NDArray base;
    if (weight == null) {
      base = NDArray.full(dtype, safeTarget.device(), 1, safeTarget.shape());
    } else {
      try (NDArray wc = weight.cast(dtype);
          NDArray flatTarget = safeTarget.reshape(-1);
          NDArray picked = wc.indexSelect(0, flatTarget)) {
        base = picked.reshape(safeTarget.shape());
      }
    }
    try (base) {
      return base.maskedFill(ignored, 0);
    }
  }

  private static void checkShapes(String loss, int[] input, int[] target) {
    boolean ok = target.length == input.length - 1 && target[0] == input[0];
    for (int k = 1; ok && k < target.length; k++) {
      ok = target[k] == input[k + 1];
    }
    if (!ok) {
      int[] expected = new int[input.length - 1];
      expected[0] = input[0];
      System.arraycopy(input, 2, expected, 1, input.length - 2);
      throw new IllegalArgumentException(
          loss
              + ": input of shape "
              + Arrays.toString(input)
              + " (N, C, d1, ...) needs a target of shape "
              + Arrays.toString(expected)
              + ", got "
              + Arrays.toString(target));
    }
  }

  /** Throws naming the first class index outside [0, classes) that is not ignoreIndex. */
  private static void checkRange(
      String loss, NDArray target, NDArray ignored, int classes, long ignoreIndex) {
    boolean bad;
    try (NDArray low = target.lt(0);
        NDArray high = target.ge(classes);
        NDArray out = low.logicalOr(high);
        NDArray kept = ignored.logicalNot();
        NDArray badMask = out.logicalAnd(kept)) {
      bad = anyTrue(badMask);
      if (bad) {
        // only on the error path: find which value to name
        long[] values = target.toLongArray();
        boolean[] flags = badMask.toBooleanArray();
        for (int i = 0; i < values.length; i++) {
          if (flags[i]) {
            throw new IllegalArgumentException(
                loss
                    + ": target class index "
                    + values[i]
                    + " is out of range for "
                    + classes
                    + " classes (valid: 0 to "
                    + (classes - 1)
                    + ", or ignore_index "
                    + ignoreIndex
                    + ")");
          }
        }
      }
    }
  }

  private static boolean anyTrue(NDArray mask) {
    if (mask.numel() == 0) {
      return false;
    }
    try (NDArray any = mask.any()) {
      return any.item() != 0;
    }
  }

  private static double sumOf(NDArray a) {
    try (NDArray s = a.sum()) {
      return s.item();
    }
  }
}
