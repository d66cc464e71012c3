package org.emberdl.data;

import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Supplier;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * Cuts a {@link Dataset} into mini-batches, epoch by epoch, like PyTorch's {@code DataLoader}.
 *
 * <pre>{@code
 * DataLoader loader = new DataLoader(train, 64, true, true, 42);
 * for (int e = 0; e < epochs; e++) {
 *   for (Batch b : loader.epoch(e)) {
 *     try (b; MemoryScope step = MemoryScope.open()) {
 *       ... b.x(), b.y() ...   // everything the step creates is freed with the batch
 *     }
 *   }
 * }
 * }</pre>
 *
 * <p><b>Ownership.</b> Each {@link Batch} belongs to the caller: close it (as above), or make the
 * batches inside a {@link org.emberdl.tensor.MemoryScope} (driving the iterator by hand within a
 * scope per step). A batch joins the scope that is open when the iterator's {@code next()} runs,
 * which in a for-each loop is before the loop body opens its own scope.
 *
 * <p><b>Order.</b> Without shuffling, epochs visit examples in order and batches are views of the
 * dataset (no copy). With shuffling, epoch {@code e} visits them in the order of {@code
 * NDArray.randperm(new Generator(seed, e), N)}, so an epoch's order depends only on the seed and
 * the epoch number, not on how many epochs ran before or on the machine; each batch is then
 * gathered with one {@code indexSelect} per array (one copy per batch, no per-row work).
 *
 * <p><b>Last batch.</b> When {@code N} is not a multiple of the batch size, {@code dropLast} drops
 * the short last batch (every batch then has exactly {@code batchSize} examples, and the dropped
 * examples differ from epoch to epoch when shuffling); otherwise it is kept.
 *
 * <p>A loader holds no array memory of its own; it reads the dataset, which must stay open while
 * batches are drawn. It may be shared between threads as long as each thread iterates its own
 * epochs.
 */
public final class DataLoader {
  private final Dataset dataset;
  private final int batchSize;
  private final boolean shuffle;
  private final boolean dropLast;
  private final long seed;

  /**
   * A loader over {@code dataset}, which stays owned by the caller.
   *
   * @param batchSize examples per batch, at least 1
   * @param shuffle whether each epoch visits the examples in a seeded random order
   * @param dropLast whether a short last batch is dropped
   * @param seed the shuffling seed (ignored without shuffling)
   */
  public DataLoader(Dataset dataset, int batchSize, boolean shuffle, boolean dropLast, long seed) {
    this.dataset = Objects.requireNonNull(dataset, "dataset");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.seed = seed;
  }

  public Dataset dataset() {
    return dataset;
  }

  public int batchSize() {
    return batchSize;
  }

  public boolean shuffle() {
    return shuffle;
  }

  public boolean dropLast() {
    return dropLast;
  }

  public long seed() {
    return seed;
  }

  /** Batches per epoch: {@code N / batchSize}, rounded down with dropLast, up without. */
  public int numBatches() {
    int n = dataset.size();
    return dropLast ? n / batchSize : (int) ((n + (long) batchSize - 1) / batchSize);
  }

  /**
   * The example indices in the order epoch {@code epoch} visits them (all N, including any that
   * dropLast leaves out): {@code 0 .. N-1} without shuffling.
   */
  public long[] order(int epoch) {
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
    }
    int n = dataset.size();
    if (!shuffle) {
      long[] identity = new long[n];
      Arrays.setAll(identity, i -> i);
      return identity;
    }
    // The permutation goes to the heap at once: an off-heap one held by an iterator would leak
    // whenever a caller stops iterating early.
    try (NDArray perm = NDArray.randperm(new Generator(seed, epoch), n)) {
      return perm.toLongArray();
    }
  }

  /**
   * The batches of epoch {@code epoch} (0-based). Each call of {@code iterator()} on the result
   * starts the epoch again, in the same order. Batches must be closed by the caller (see the class
   * comment).
   */
  public Iterable<Batch> epoch(int epoch) {
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
    }
    long[] order = shuffle ? order(epoch) : null;
    return () -> new BatchIterator(order);
  }

  private final class BatchIterator implements Iterator<Batch> {
    private final long[] order;
    private final int numBatches = numBatches();
    private final int n = dataset.size();
    private int next;

    BatchIterator(long[] order) {
      this.order = order;
    }

    @Override
    public boolean hasNext() {
      return next < numBatches;
    }

    @Override
    public Batch next() {
      if (!hasNext()) {
        throw new NoSuchElementException("epoch has " + numBatches + " batches");
      }
      int start = next * batchSize;
      int end = Math.min(start + batchSize, n);
      next++;
      NDArray features = dataset.features();
      NDArray labels = dataset.labels();
      if (order == null) {
        NDArray x = features.narrow(0, start, end - start);
        return batchOrClose(x, () -> labels.narrow(0, start, end - start));
      }
      try (NDArray index = NDArray.of(Arrays.copyOfRange(order, start, end))) {
        NDArray x = features.indexSelect(0, index);
        return batchOrClose(x, () -> labels.indexSelect(0, index));
      }
    }
  }

  /** A batch of {@code x} and the labels {@code y} makes; {@code x} is closed if that fails. */
  private static Batch batchOrClose(NDArray x, Supplier<NDArray> y) {
    try {
      return new Batch(x, y.get());
    } catch (RuntimeException | Error e) {
      x.close();
      throw e;
    }
  }
}
