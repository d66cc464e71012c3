package org.emberdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxReaderTest {
  @TempDir Path dir;

  // ---- Helpers: IDX files written byte by byte ----

  private static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** Magic {@code 00 00 type ndims}, the sizes as big-endian int32s, then {@code data}. */
  private static byte[] idx(int type, int[] dims, byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length); // big-endian default
    b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) dims.length);
    for (int d : dims) {
      b.putInt(d);
    }
    return b.put(data).array();
  }

  private static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    }
    return out.toByteArray();
  }

  private Path write(String name, byte[] content) throws IOException {
    return Files.write(dir.resolve(name), content);
  }

  /** Writes {@code content} plain and gzipped (under a name without .gz: detection is by bytes). */
  private Path[] writeBoth(String name, byte[] content) throws IOException {
    return new Path[] {write(name, content), write(name + "-compressed", gzip(content))};
  }

  private IdxFormatException assertFormatError(Path file, String fragment, Reader reader) {
    IdxFormatException e = assertThrows(IdxFormatException.class, () -> reader.read(file).close());
    assertTrue(
        e.getMessage().contains(fragment),
        () -> "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    assertTrue(e.getMessage().contains(file.toString()), "message names the file");
    assertEquals(file.toString(), e.source());
    return e;
  }

  private IdxFormatException assertFormatError(Path file, String fragment) {
    return assertFormatError(file, fragment, IdxReader::read);
  }

  @FunctionalInterface
  private interface Reader {
    NDArray read(Path file) throws IOException;
  }

  // ---- Reading valid files ----

  @Test
  void readsUnsignedBytesAsInt32PlainAndGzipped() throws IOException {
    byte[] file = idx(0x08, new int[] {2, 3}, bytes(0, 1, 127, 128, 254, 255));
    for (Path p : writeBoth("ubyte", file)) {
      try (NDArray a = IdxReader.read(p)) {
        assertEquals(DType.INT32, a.dtype());
        assertArrayEquals(new int[] {2, 3}, a.shape());
        assertArrayEquals(new int[] {0, 1, 127, 128, 254, 255}, a.toIntArray());
      }
    }
  }

  @Test
  void readsSignedBytesShortsAndInts() throws IOException {
    for (Path p : writeBoth("byte", idx(0x09, new int[] {4}, bytes(0x80, 0xff, 0x00, 0x7f)))) {
      try (NDArray a = IdxReader.read(p)) {
        assertEquals(DType.INT32, a.dtype());
        assertArrayEquals(new int[] {-128, -1, 0, 127}, a.toIntArray());
      }
    }
    byte[] shorts = bytes(0x01, 0x02, 0xff, 0xfe, 0x80, 0x00, 0x7f, 0xff);
    for (Path p : writeBoth("short", idx(0x0B, new int[] {2, 2}, shorts))) {
      try (NDArray a = IdxReader.read(p)) {
        assertEquals(DType.INT32, a.dtype());
        assertArrayEquals(new int[] {258, -2, -32768, 32767}, a.toIntArray());
      }
    }
    byte[] ints = bytes(0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0);
    for (Path p : writeBoth("int", idx(0x0C, new int[] {3, 1}, ints))) {
      try (NDArray a = IdxReader.read(p)) {
        assertArrayEquals(new int[] {3, 1}, a.shape());
        assertArrayEquals(new int[] {65536, -1, Integer.MIN_VALUE}, a.toIntArray());
      }
    }
  }

  @Test
  void readsFloatsAndDoubles() throws IOException {
    // 1.5f = 3fc00000, -2f = c0000000, +inf = 7f800000.
    byte[] floats = bytes(0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0, 0x7f, 0x80, 0, 0);
    for (Path p : writeBoth("float", idx(0x0D, new int[] {3}, floats))) {
      try (NDArray a = IdxReader.read(p)) {
        assertEquals(DType.FLOAT32, a.dtype());
        assertArrayEquals(new float[] {1.5f, -2f, Float.POSITIVE_INFINITY}, a.toFloatArray(), 0f);
      }
    }
    // 0.1 = 3fb999999999999a, -0.0 = 8000000000000000.
    byte[] doubles =
        bytes(0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0x80, 0, 0, 0, 0, 0, 0, 0);
    for (Path p : writeBoth("double", idx(0x0E, new int[] {1, 2}, doubles))) {
      try (NDArray a = IdxReader.read(p)) {
        assertEquals(DType.FLOAT64, a.dtype());
        double[] v = a.toDoubleArray();
        assertEquals(0.1, v[0], 0.0);
        assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(v[1]));
      }
    }
  }

  @Test
  void readImagesScalesBytesToUnitInterval() throws IOException {
    byte[] pixels = bytes(0, 255, 51, 102, 1, 254, 128, 17);
    for (Path p : writeBoth("images", idx(0x08, new int[] {2, 2, 2}, pixels))) {
      try (NDArray a = IdxReader.readImages(p)) {
        assertEquals(DType.FLOAT32, a.dtype());
        assertArrayEquals(new int[] {2, 2, 2}, a.shape());
        float[] v = a.toFloatArray();
        assertEquals(0f, v[0]);
        assertEquals(1f, v[1]);
        assertEquals(0.2f, v[2]);
        assertEquals(0.4f, v[3]);
        for (int i = 0; i < pixels.length; i++) {
          // Bit-exact with the float division torchvision's ToTensor does.
          assertEquals((pixels[i] & 0xff) / 255f, v[i], 0f);
        }
      }
    }
  }

  @Test
  void readLabelsGivesInt64FromAnyIntegerType() throws IOException {
    for (Path p : writeBoth("labels", idx(0x08, new int[] {4}, bytes(9, 0, 3, 255)))) {
      try (NDArray a = IdxReader.readLabels(p)) {
        assertEquals(DType.INT64, a.dtype());
        assertArrayEquals(new long[] {9, 0, 3, 255}, a.toLongArray());
      }
      try (NDArray a = IdxReader.readLabels(p, 256)) {
        assertArrayEquals(new long[] {9, 0, 3, 255}, a.toLongArray());
      }
    }
    Path shorts = write("short-labels", idx(0x0B, new int[] {2}, bytes(0, 7, 1, 0)));
    try (NDArray a = IdxReader.readLabels(shorts, 300)) {
      assertArrayEquals(new long[] {7, 256}, a.toLongArray());
    }
  }

  @Test
  void readsFilesSpanningManyChunks() throws IOException {
    // Over the 64 KiB chunk, and not a multiple of it, so elements straddle no chunk boundary
    // only if the reader aligns chunks to whole elements.
    int n = 100_003;
    ByteBuffer data = ByteBuffer.allocate(4 * n);
    int[] expected = new int[n];
    for (int i = 0; i < n; i++) {
      expected[i] = i * 7919 - 12345;
      data.putInt(expected[i]);
    }
    for (Path p : writeBoth("many-ints", idx(0x0C, new int[] {n}, data.array()))) {
      try (NDArray a = IdxReader.read(p)) {
        assertArrayEquals(expected, a.toIntArray());
      }
    }
    byte[] pixels = new byte[3 * 200 * 150];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (byte) (i * 31);
    }
    for (Path p : writeBoth("many-bytes", idx(0x08, new int[] {3, 200, 150}, pixels))) {
      try (NDArray a = IdxReader.readImages(p)) {
        float[] v = a.toFloatArray();
        for (int i = 0; i < pixels.length; i++) {
          assertEquals((pixels[i] & 0xff) / 255f, v[i], 0f, "pixel " + i);
        }
      }
    }
  }

  @Test
  void zeroSizedDimensionsGiveEmptyArrays() throws IOException {
    Path p = write("empty", idx(0x08, new int[] {0, 28, 28}, new byte[0]));
    try (NDArray a = IdxReader.readImages(p)) {
      assertArrayEquals(new int[] {0, 28, 28}, a.shape());
    }
  }

  @Test
  void readHeaderReportsTypeAndSizes() throws IOException {
    for (Path p : writeBoth("h", idx(0x0B, new int[] {2, 1}, bytes(0, 1, 0, 2)))) {
      IdxHeader h = IdxReader.readHeader(p);
      assertEquals(IdxType.SHORT, h.type());
      assertArrayEquals(new int[] {2, 1}, h.dims());
      assertEquals(2, h.numel());
      assertEquals(12, h.headerBytes());
      assertEquals(4, h.dataBytes());
    }
  }

  // ---- Bad input: each rule throws IdxFormatException naming the file and the problem ----

  @Test
  void rejectsBadMagic() throws IOException {
    byte[] notIdx = concat(bytes(0x01, 0x00, 0x08, 0x01), idx(0x08, new int[] {1}, bytes(0)));
    for (Path p : writeBoth("bad-magic", notIdx)) {
      assertFormatError(p, "bad magic number 01 00 08 01");
    }
    Path text = write("text", "hello, world".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    assertFormatError(text, "bad magic number");
  }

  @Test
  void rejectsUnknownTypeCode() throws IOException {
    for (Path p : writeBoth("type", idx(0x0A, new int[] {1}, bytes(0, 0, 0, 0)))) {
      assertFormatError(p, "unknown type code 0x0a");
    }
    assertFormatError(write("type-ff", idx(0xff, new int[] {1}, bytes(0))), "0xff");
  }

  @Test
  void rejectsZeroOrTooManyDimensions() throws IOException {
    for (Path p : writeBoth("zero-dims", bytes(0, 0, 0x08, 0, 42))) {
      assertFormatError(p, "gives 0 dimensions; expected 1 to 8");
    }
    int[] nine = new int[9];
    Arrays.fill(nine, 1);
    for (Path p : writeBoth("nine-dims", idx(0x08, nine, bytes(7)))) {
      assertFormatError(p, "gives 9 dimensions");
    }
  }

  @Test
  void rejectsNegativeSizes() throws IOException {
    byte[] file = concat(bytes(0, 0, 0x08, 2, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfb), bytes(1));
    for (Path p : writeBoth("negative", file)) {
      assertFormatError(p, "dimension 1 has a negative size -5");
    }
  }

  @Test
  void rejectsOverflowingSizes() throws IOException {
    int max = Integer.MAX_VALUE;
    for (Path p : writeBoth("overflow", idx(0x0E, new int[] {max, max, max, 4}, new byte[0]))) {
      assertFormatError(p, "overflow");
    }
  }

  @Test
  void rejectsTruncatedHeaders() throws IOException {
    for (Path p : writeBoth("short-magic", bytes(0, 0, 8))) {
      assertFormatError(p, "truncated header: it ends after 3 bytes, but needs 4");
    }
    // Two dimensions promised, one given.
    for (Path p : writeBoth("short-sizes", bytes(0, 0, 8, 2, 0, 0, 0, 1))) {
      assertFormatError(p, "truncated header: it ends after 8 bytes, but needs 12");
    }
    assertFormatError(write("empty-file", new byte[0]), "truncated header");
  }

  @Test
  void rejectsTruncatedData() throws IOException {
    byte[] file = idx(0x0C, new int[] {2, 2}, bytes(0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0));
    for (Path p : writeBoth("truncated", file)) {
      assertFormatError(p, "promises 16 bytes of data, but the file holds only 14");
    }
    // Past the first chunk, so the streaming check (not only the length check) must catch it.
    byte[] big = idx(0x08, new int[] {1, 300, 300}, new byte[300 * 300 - 1]);
    for (Path p : writeBoth("truncated-big", big)) {
      assertFormatError(p, "truncated", IdxReader::readImages);
    }
  }

  @Test
  void rejectsCutGzipStreamAndImpossibleGzipSizes() throws IOException {
    byte[] gz = gzip(idx(0x08, new int[] {1000}, new byte[1000]));
    Path cut = write("cut.gz", Arrays.copyOf(gz, gz.length - 12));
    assertFormatError(cut, "gzip");
    // 2^40 bytes cannot come out of a gzip file of a few dozen bytes: refused before allocating.
    Path bomb = write("bomb.gz", gzip(idx(0x08, new int[] {1 << 20, 1 << 20}, new byte[0])));
    assertFormatError(bomb, "more than a gzip file of");
    Path header = write("bad-gzip-header", bytes(0x1f, 0x8b, 0x07, 0, 0, 0, 0, 0, 0, 0));
    assertFormatError(header, "corrupt gzip header");
  }

  @Test
  void rejectsTrailingGarbage() throws IOException {
    byte[] file = concat(idx(0x08, new int[] {3}, bytes(1, 2, 3)), bytes(0xde, 0xad));
    for (Path p : writeBoth("trailing", file)) {
      assertFormatError(p, "2 trailing bytes after the 3 bytes of data");
    }
  }

  @Test
  void rejectsNaN() throws IOException {
    byte[] floats = bytes(0x3f, 0x80, 0, 0, 0x7f, 0xc0, 0, 0);
    for (Path p : writeBoth("nan-float", idx(0x0D, new int[] {1, 2}, floats))) {
      assertFormatError(p, "NaN at element 1 (index [0, 1])");
    }
    byte[] doubles = bytes(0x7f, 0xf8, 0, 0, 0, 0, 0, 1);
    for (Path p : writeBoth("nan-double", idx(0x0E, new int[] {1}, doubles))) {
      assertFormatError(p, "NaN at element 0");
    }
  }

  @Test
  void rejectsLabelsOutsideTheClasses() throws IOException {
    for (Path p : writeBoth("labels", idx(0x08, new int[] {4}, bytes(9, 0, 10, 3)))) {
      assertFormatError(
          p, "label 10 at index 2 is outside the classes 0..9", f -> IdxReader.readLabels(f, 10));
    }
    Path signed = write("signed", idx(0x09, new int[] {2}, bytes(1, 0xff)));
    assertFormatError(signed, "label -1 at index 1", f -> IdxReader.readLabels(f, 10));
    assertThrows(IllegalArgumentException.class, () -> IdxReader.readLabels(signed, 0));
  }

  @Test
  void rejectsFilesOfTheWrongKind() throws IOException {
    Path ints = write("ints", idx(0x0C, new int[] {1, 1, 1}, bytes(0, 0, 0, 1)));
    assertFormatError(ints, "images must be unsigned bytes", IdxReader::readImages);
    Path flat = write("flat", idx(0x08, new int[] {4}, bytes(1, 2, 3, 4)));
    assertFormatError(flat, "images must have 3 dimensions", IdxReader::readImages);
    Path floats = write("floats", idx(0x0D, new int[] {1}, bytes(0, 0, 0, 0)));
    assertFormatError(floats, "labels must be integers", IdxReader::readLabels);
    Path matrix = write("matrix", idx(0x08, new int[] {2, 2}, bytes(1, 2, 3, 4)));
    assertFormatError(matrix, "labels must have 1 dimension", IdxReader::readLabels);
  }

  @Test
  void missingFileIsNoSuchFile() {
    assertThrows(NoSuchFileException.class, () -> IdxReader.read(dir.resolve("absent")));
  }
}
