package org.emberdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class FashionMnistTest {
  private static final Logger LOG = LoggerFactory.getLogger(FashionMnistTest.class);

  @TempDir Path dir;

  private static void assumeInstalled() {
    assumeTrue(
        FashionMnist.isAvailable(FashionMnist.DEFAULT_DIR),
        "Fashion-MNIST is not installed in " + FashionMnist.DEFAULT_DIR);
  }

  /** The first {@code n} bytes after the header of a gzipped IDX file, decoded independently. */
  private static byte[] rawData(Path gz, int headerBytes, int n) throws IOException {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
      in.skipNBytes(headerBytes);
      byte[] data = in.readNBytes(n);
      assertEquals(n, data.length);
      return data;
    }
  }

  @Test
  void classNames() {
    assertEquals(10, FashionMnist.CLASS_NAMES.size());
    assertEquals("T-shirt/top", FashionMnist.CLASS_NAMES.get(0));
    assertEquals("Sneaker", FashionMnist.CLASS_NAMES.get(7));
    assertEquals("Ankle boot", FashionMnist.CLASS_NAMES.get(9));
  }

  @Test
  void missingFilesSayHowToInstallThem() {
    assertFalse(FashionMnist.isAvailable(dir));
    NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> FashionMnist.train(dir));
    assertTrue(e.getMessage().contains("train-images-idx3-ubyte.gz"), e.getMessage());
    assertTrue(e.getMessage().contains("scripts/setup.sh"), e.getMessage());
    assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"), e.getMessage());
  }

  @Test
  void rejectsImagesThatAreNot28By28() throws IOException {
    // A tiny stand-in for the unpacked files: 2 images of 3x3, labels 1 and 9.
    ByteBuffer images = ByteBuffer.allocate(16 + 18);
    images.putInt(0x00000803).putInt(2).putInt(3).putInt(3);
    Files.write(dir.resolve("t10k-images-idx3-ubyte"), images.array());
    ByteBuffer labels = ByteBuffer.allocate(8 + 2);
    labels.putInt(0x00000801).putInt(2).put((byte) 1).put((byte) 9);
    Files.write(dir.resolve("t10k-labels-idx1-ubyte"), labels.array());
    IdxFormatException e = assertThrows(IdxFormatException.class, () -> FashionMnist.test(dir));
    assertTrue(e.getMessage().contains("are 28x28"), e.getMessage());
  }

  @Test
  void trainSet() throws IOException {
    assumeInstalled();
    long start = System.nanoTime();
    try (Dataset train = FashionMnist.train()) {
      LOG.info("Fashion-MNIST train loaded in {} ms", (System.nanoTime() - start) / 1_000_000);
      assertEquals(60000, train.size());
      assertArrayEquals(new int[] {60000, 28, 28}, train.features().shape());
      assertEquals(DType.FLOAT32, train.features().dtype());
      assertEquals(DType.INT64, train.labels().dtype());
      try (NDArray min = train.features().min();
          NDArray max = train.features().max()) {
        assertEquals(0.0, min.item());
        assertTrue(max.item() <= 1.0 && max.item() > 0.9, "max pixel " + max.item());
      }
      long[] labels = train.labels().toLongArray();
      int[] counts = new int[10];
      for (long l : labels) {
        assertTrue(l >= 0 && l <= 9, "label " + l);
        counts[(int) l]++;
      }
      int[] sixThousandEach = new int[10];
      Arrays.fill(sixThousandEach, 6000);
      assertArrayEquals(sixThousandEach, counts, "Fashion-MNIST train has 6000 of each class");

      // The first label and image, decoded here from the raw gzip bytes, not by IdxReader.
      Path dir = FashionMnist.DEFAULT_DIR;
      byte[] rawLabel = rawData(dir.resolve("train-labels-idx1-ubyte.gz"), 8, 1);
      assertEquals(9, rawLabel[0], "the first training example is an ankle boot");
      assertEquals(9, labels[0]);
      assertEquals("Ankle boot", FashionMnist.CLASS_NAMES.get((int) labels[0]));
      byte[] rawImage = rawData(dir.resolve("train-images-idx3-ubyte.gz"), 16, 28 * 28);
      try (NDArray first = train.features().select(0, 0)) {
        float[] pixels = first.toFloatArray();
        for (int i = 0; i < 28 * 28; i++) {
          assertEquals((rawImage[i] & 0xff) / 255f, pixels[i], 0f, "pixel " + i);
        }
      }
    }
  }

  @Test
  void testSet() throws IOException {
    assumeInstalled();
    try (Dataset test = FashionMnist.test();
        Dataset flat = test.flattened()) {
      assertEquals(10000, test.size());
      assertArrayEquals(new int[] {10000, 28, 28}, test.features().shape());
      assertArrayEquals(new int[] {10000, 784}, flat.features().shape());
      int[] counts = new int[10];
      for (long l : test.labels().toLongArray()) {
        counts[(int) l]++;
      }
      for (int c = 0; c < 10; c++) {
        assertEquals(1000, counts[c], "Fashion-MNIST test has 1000 of class " + c);
      }
      try (NDArray min = test.features().min();
          NDArray max = test.features().max()) {
        assertTrue(min.item() >= 0 && max.item() <= 1);
      }
    }
  }

  @Test
  void trainSetThroughALoader() throws IOException {
    assumeInstalled();
    try (Dataset train = FashionMnist.train();
        Dataset flat = train.flattened()) {
      DataLoader loader = new DataLoader(flat, 256, true, true, 2024);
      assertEquals(234, loader.numBatches());
      int batches = 0;
      for (Batch b : loader.epoch(0)) {
        try (b) {
          assertArrayEquals(new int[] {256, 784}, b.x().shape());
          batches++;
        }
      }
      assertEquals(234, batches);
    }
  }
}
