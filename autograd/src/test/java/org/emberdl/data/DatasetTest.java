package org.emberdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetTest {
  @TempDir Path dir;

  /** A dataset of 5 examples of 2x3 features: example i holds 6i .. 6i+5, label i. */
  private static Dataset fiveExamples() {
    float[] x = new float[5 * 6];
    for (int i = 0; i < x.length; i++) {
      x[i] = i;
    }
    return new Dataset(NDArray.of(x, 5, 2, 3), NDArray.of(new long[] {0, 1, 2, 3, 4}));
  }

  private Path idx(String name, int type, int[] dims, byte[] data) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
    b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) dims.length);
    for (int d : dims) {
      b.putInt(d);
    }
    return Files.write(dir.resolve(name), b.put(data).array());
  }

  @Test
  void holdsFeaturesAndLabels() {
    try (Dataset d = fiveExamples()) {
      assertEquals(5, d.size());
      assertArrayEquals(new int[] {5, 2, 3}, d.features().shape());
      assertArrayEquals(new long[] {0, 1, 2, 3, 4}, d.labels().toLongArray());
    }
  }

  @Test
  void subsetIsAViewOfTheRange() {
    try (Dataset d = fiveExamples();
        Dataset s = d.subset(1, 3)) {
      assertEquals(2, s.size());
      assertSame(d.features().storage(), s.features().storage(), "no copy");
      assertArrayEquals(new long[] {1, 2}, s.labels().toLongArray());
      float[] x = s.features().toFloatArray();
      assertEquals(6f, x[0]);
      assertEquals(17f, x[11]);
      try (Dataset empty = d.subset(5, 5)) {
        assertEquals(0, empty.size());
      }
      assertThrows(IndexOutOfBoundsException.class, () -> d.subset(3, 2));
      assertThrows(IndexOutOfBoundsException.class, () -> d.subset(0, 6));
      assertThrows(IndexOutOfBoundsException.class, () -> d.subset(-1, 2));
    }
  }

  @Test
  void viewsOutliveTheirDataset() {
    Dataset s;
    try (Dataset d = fiveExamples()) {
      s = d.subset(4, 5);
    }
    try (s) {
      assertArrayEquals(new long[] {4}, s.labels().toLongArray());
    }
  }

  @Test
  void flattenedIsANByFeaturesView() {
    try (Dataset d = fiveExamples();
        Dataset f = d.flattened()) {
      assertArrayEquals(new int[] {5, 6}, f.features().shape());
      assertSame(d.features().storage(), f.features().storage(), "no copy");
      assertArrayEquals(d.features().toFloatArray(), f.features().toFloatArray(), 0f);
    }
    try (Dataset oneD = new Dataset(NDArray.of(new float[] {1, 2}), NDArray.of(new long[] {0, 1}));
        Dataset f = oneD.flattened()) {
      assertArrayEquals(new int[] {2, 1}, f.features().shape());
    }
  }

  @Test
  void rejectsMismatchedShapesLeavingTheArraysToTheCaller() {
    try (NDArray x = NDArray.zeros(DType.FLOAT32, 3, 2);
        NDArray y = NDArray.zeros(DType.INT64, 4);
        NDArray y2 = NDArray.zeros(DType.INT64, 3, 1)) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> new Dataset(x, y));
      assertTrue(e.getMessage().contains("different numbers of examples"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> new Dataset(x, y2));
      assertThrows(NullPointerException.class, () -> new Dataset(x, null));
    }
  }

  @Test
  void closeClosesBothArrays() {
    Dataset d = fiveExamples();
    NDArray x = d.features();
    NDArray y = d.labels();
    d.close();
    d.close(); // idempotent
    assertTrue(x.isClosed());
    assertTrue(y.isClosed());
    assertThrows(IllegalStateException.class, d::features);
    assertThrows(IllegalStateException.class, d::size);
  }

  @Test
  void fromIdxReadsImagesAndLabels() throws IOException {
    Path images = idx("img", 0x08, new int[] {2, 1, 2}, new byte[] {0, (byte) 255, 51, 0});
    Path labels = idx("lbl", 0x08, new int[] {2}, new byte[] {7, 2});
    try (Dataset d = Dataset.fromIdx(images, labels, 10)) {
      assertEquals(2, d.size());
      assertArrayEquals(new float[] {0f, 1f, 0.2f, 0f}, d.features().toFloatArray(), 0f);
      assertArrayEquals(new long[] {7, 2}, d.labels().toLongArray());
    }
  }

  @Test
  void fromIdxRejectsCountMismatch() throws IOException {
    Path images = idx("img", 0x08, new int[] {2, 1, 1}, new byte[] {1, 2});
    Path labels = idx("lbl", 0x08, new int[] {3}, new byte[] {0, 1, 2});
    IdxFormatException e =
        assertThrows(IdxFormatException.class, () -> Dataset.fromIdx(images, labels, 10).close());
    assertTrue(e.getMessage().contains("holds 3 labels, but the image file"), e.getMessage());
    assertTrue(e.getMessage().contains(labels.toString()), e.getMessage());
    assertTrue(e.getMessage().contains(images.toString()), e.getMessage());
    // The images array read before the mismatch was found is closed (the leak check would fail).
    Path badLabels = idx("bad", 0x08, new int[] {2}, new byte[] {0, 10});
    assertThrows(IdxFormatException.class, () -> Dataset.fromIdx(images, badLabels, 10).close());
  }
}
