package org.emberdl.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import org.emberdl.tensor.NDArray;

/**
 * An in-memory dataset: {@code features} of shape {@code (N, ...)} and {@code labels} of shape
 * {@code (N)}, example {@code i} being row {@code i} of both (PyTorch's {@code TensorDataset}).
 *
 * <p>A dataset owns its two arrays and closes both when closed. {@link #subset} and {@link
 * #flattened} return new datasets of views: they share memory with this one (no copy), must be
 * closed too, and stay valid after this one is closed, as views do.
 */
public final class Dataset implements AutoCloseable {
  private final NDArray features;
  private final NDArray labels;
  private boolean closed;

  /**
   * A dataset that takes ownership of {@code features} and {@code labels}.
   *
   * @param features {@code (N, ...)}, at least 1 dimension
   * @param labels {@code (N)}
   * @throws IllegalArgumentException when the shapes do not fit (the caller then still owns both
   *     arrays)
   */
  public Dataset(NDArray features, NDArray labels) {
    Objects.requireNonNull(features, "features");
    Objects.requireNonNull(labels, "labels");
    if (features.isClosed() || labels.isClosed()) {
      throw new IllegalArgumentException("a dataset needs open arrays");
    }
    if (features.ndim() < 1) {
      throw new IllegalArgumentException("features need at least 1 dimension (N, ...), got a 0-d");
    }
    if (labels.ndim() != 1) {
      throw new IllegalArgumentException(
          "labels must be 1-D (N), got shape " + Arrays.toString(labels.shape()));
    }
    if (features.shape(0) != labels.shape(0)) {
      throw new IllegalArgumentException(
          "features "
              + Arrays.toString(features.shape())
              + " and labels "
              + Arrays.toString(labels.shape())
              + " have different numbers of examples");
    }
    this.features = features;
    this.labels = labels;
  }

  /**
   * Reads a dataset from an IDX image file ({@code (N, rows, cols)} unsigned bytes, scaled to [0,
   * 1], see {@link IdxReader#readImages}) and an IDX label file ({@code (N)} integers in {@code 0
   * .. numClasses - 1}).
   *
   * @throws IdxFormatException when either file is invalid, or their counts differ
   * @throws IOException when a file cannot be read
   */
  public static Dataset fromIdx(Path images, Path labels, int numClasses) throws IOException {
    NDArray x = IdxReader.readImages(images);
    try {
      NDArray y = IdxReader.readLabels(labels, numClasses);
      if (y.shape(0) != x.shape(0)) {
        int n = y.shape(0);
        y.close();
        throw new IdxFormatException(
            labels.toString(),
            "holds " + n + " labels, but the image file " + images + " holds " + x.shape(0));
      }
      return new Dataset(x, y);
    } catch (IOException | RuntimeException | Error e) {
      x.close();
      throw e;
    }
  }

  /** Number of examples, N. */
  public int size() {
    return features().shape(0);
  }

  /** The features, {@code (N, ...)}; owned by this dataset (do not close). */
  public NDArray features() {
    checkOpen();
    return features;
  }

  /** The labels, {@code (N)}; owned by this dataset (do not close). */
  public NDArray labels() {
    checkOpen();
    return labels;
  }

  /**
   * Examples {@code from} (inclusive) to {@code to} (exclusive) as a new dataset of views, which
   * the caller closes.
   *
   * @throws IndexOutOfBoundsException unless {@code 0 <= from <= to <= size()}
   */
  public Dataset subset(int from, int to) {
    int n = size();
    if (from < 0 || to < from || to > n) {
      throw new IndexOutOfBoundsException(
          "subset(" + from + ", " + to + ") of a dataset of " + n + " examples");
    }
    NDArray x = features.narrow(0, from, to - from);
    return withFeatures(x, labels.narrow(0, from, to - from));
  }

  /**
   * The same examples with each one's features flattened to a vector, {@code (N, prod(...))}: a
   * view for contiguous features (as read from IDX files), which the caller closes. A {@code (N,
   * 28, 28)} image set becomes {@code (N, 784)}, what a linear layer takes.
   */
  public Dataset flattened() {
    int[] shape = features().shape();
    long perExample = 1;
    for (int d = 1; d < shape.length; d++) {
      perExample *= shape[d];
    }
    if (perExample > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "cannot flatten " + Arrays.toString(shape) + ": an example has over 2^31 features");
    }
    // reshape, not flatten(1, -1): it also takes 1-D features (to (N, 1)) and N = 0.
    NDArray x = features.reshape(shape[0], (int) perExample);
    return withFeatures(x, labels.narrow(0, 0, labels.shape(0)));
  }

  /** A dataset of {@code x} and the view {@code y}, closing both if that fails. */
  private static Dataset withFeatures(NDArray x, NDArray y) {
    try {
      return new Dataset(x, y);
    } catch (RuntimeException e) {
      x.close();
      y.close();
      throw e;
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the dataset was closed");
    }
  }

  /** Closes the features and labels; idempotent. */
  @Override
  public void close() {
    closed = true;
    features.close();
    labels.close();
  }

  @Override
  public String toString() {
    if (closed) {
      return "Dataset(closed)";
    }
    return "Dataset(features "
        + features.dtype()
        + Arrays.toString(features.shape())
        + ", labels "
        + labels.dtype()
        + Arrays.toString(labels.shape())
        + ")";
  }
}
