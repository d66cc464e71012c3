package org.emberdl.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * <a href="https://github.com/zalandoresearch/fashion-mnist">Fashion-MNIST</a>: 28x28 grayscale
 * images of clothing in 10 classes, 60000 for training and 10000 for testing, read from the IDX
 * files of Debian's {@code dataset-fashion-mnist} package (which {@code scripts/setup.sh} installs)
 * in {@link #DEFAULT_DIR}.
 *
 * <p>Images come as float32 {@code (N, 28, 28)} in [0, 1] (use {@link Dataset#flattened()} for
 * {@code (N, 784)}), labels as int64 {@code (N)} in {@code 0..9}, indexing {@link #CLASS_NAMES}.
 * Each file is looked for gzipped ({@code train-images-idx3-ubyte.gz}) and then unpacked ({@code
 * train-images-idx3-ubyte}).
 */
public final class FashionMnist {
  private static final Logger LOG = LoggerFactory.getLogger(FashionMnist.class);

  /** Where Debian's {@code dataset-fashion-mnist} package puts the files. */
  public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");

  /** Number of classes. */
  public static final int NUM_CLASSES = 10;

  /** Image height and width. */
  public static final int IMAGE_SIZE = 28;

  /** The class names, by label. */
  public static final List<String> CLASS_NAMES =
      List.of(
          "T-shirt/top",
          "Trouser",
          "Pullover",
          "Dress",
          "Coat",
          "Sandal",
          "Shirt",
          "Sneaker",
          "Bag",
          "Ankle boot");

  private FashionMnist() {}

  /** The 60000 training examples from {@link #DEFAULT_DIR}. */
  public static Dataset train() throws IOException {
    return train(DEFAULT_DIR);
  }

  /** The 10000 test examples from {@link #DEFAULT_DIR}. */
  public static Dataset test() throws IOException {
    return test(DEFAULT_DIR);
  }

  /**
   * The training examples from {@code dir}.
   *
   * @throws NoSuchFileException when a file is missing (the message says how to install it)
   * @throws IdxFormatException when a file is invalid, the images are not 28x28, a label is not in
   *     0..9, or the counts differ
   */
  public static Dataset train(Path dir) throws IOException {
    return load(dir, "train");
  }

  /** The test examples from {@code dir}; throws as {@link #train(Path)}. */
  public static Dataset test(Path dir) throws IOException {
    return load(dir, "t10k");
  }

  /** True when {@code dir} holds all four files (gzipped or not). */
  public static boolean isAvailable(Path dir) {
    for (String prefix : new String[] {"train", "t10k"}) {
      for (String kind : new String[] {"images-idx3-ubyte", "labels-idx1-ubyte"}) {
        if (find(dir, prefix + "-" + kind) == null) {
          return false;
        }
      }
    }
    return true;
  }

  private static Dataset load(Path dir, String prefix) throws IOException {
    long start = System.nanoTime();
    Path images = require(dir, prefix + "-images-idx3-ubyte");
    Path labels = require(dir, prefix + "-labels-idx1-ubyte");
    Dataset d = Dataset.fromIdx(images, labels, NUM_CLASSES);
    int[] shape = d.features().shape();
    if (shape[1] != IMAGE_SIZE || shape[2] != IMAGE_SIZE) {
      d.close();
      throw new IdxFormatException(
          images.toString(),
          "Fashion-MNIST images are 28x28, this file's sizes are " + Arrays.toString(shape));
    }
    LOG.info(
        "loaded Fashion-MNIST {} from {}: {} examples in {} ms",
        prefix.equals("train") ? "train" : "test",
        dir,
        d.size(),
        (System.nanoTime() - start) / 1_000_000);
    return d;
  }

  private static Path require(Path dir, String name) throws NoSuchFileException {
    Path p = find(dir, name);
    if (p == null) {
      throw new NoSuchFileException(
          dir.resolve(name + ".gz").toString(),
          null,
          "Fashion-MNIST file missing; install Debian's dataset-fashion-mnist package (run"
              + " scripts/setup.sh, or sudo apt-get install dataset-fashion-mnist), or pass the"
              + " directory holding the IDX files");
    }
    return p;
  }

  /** {@code dir/name.gz}, else {@code dir/name}, else null. */
  private static Path find(Path dir, String name) {
    for (Path p : new Path[] {dir.resolve(name + ".gz"), dir.resolve(name)}) {
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    return null;
  }
}
