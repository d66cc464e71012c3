package org.emberdl.tensor.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  // ---- Helpers ----

  /** A safetensors file built by hand: LE u64 header length, the header as given, the data. */
  private static byte[] file(String header, byte[] data) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    return file(h.length, h, data);
  }

  private static byte[] file(long declaredLength, byte[] header, byte[] data) {
    ByteBuffer b =
        ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    return b.putLong(declaredLength).put(header).put(data).array();
  }

  private static byte[] leFloats(float... values) {
    ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return b.array();
  }

  private static byte[] leLongs(long... values) {
    ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      b.putLong(v);
    }
    return b.array();
  }

  private static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    ByteBuffer b = ByteBuffer.allocate(n);
    for (byte[] p : parts) {
      b.put(p);
    }
    return b.array();
  }

  /** The values of any array as raw bits, so that NaN payloads and -0.0 compare exactly. */
  private static long[] bits(NDArray a) {
    return switch (a.dtype()) {
      case BOOL -> {
        boolean[] v = a.toBooleanArray();
        long[] out = new long[v.length];
        for (int i = 0; i < v.length; i++) {
          out[i] = v[i] ? 1 : 0;
        }
        yield out;
      }
      case INT32 -> Arrays.stream(a.toIntArray()).asLongStream().toArray();
      case INT64 -> a.toLongArray();
      case FLOAT32 -> {
        float[] v = a.toFloatArray();
        long[] out = new long[v.length];
        for (int i = 0; i < v.length; i++) {
          out[i] = Float.floatToRawIntBits(v[i]);
        }
        yield out;
      }
      case FLOAT64 ->
          Arrays.stream(a.toDoubleArray()).mapToLong(Double::doubleToRawLongBits).toArray();
    };
  }

  private static String header(byte[] file) {
    long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    return new String(file, 8, (int) n, StandardCharsets.UTF_8);
  }

  private List<Path> filesInDir() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }

  /**
   * Reads {@code bytes} from a file and from memory; both must fail with the fragments in the
   * message, and the file's message must name the file.
   */
  private SafetensorsFormatException assertBad(byte[] bytes, String... fragments)
      throws IOException {
    Path f = dir.resolve("bad.safetensors");
    Files.write(f, bytes);
    SafetensorsFormatException e =
        assertThrows(SafetensorsFormatException.class, () -> Safetensors.read(f));
    String message = e.getMessage();
    assertTrue(message.contains(f.toString()), message);
    assertEquals(f.toString(), e.source());
    SafetensorsFormatException fromBytes =
        assertThrows(SafetensorsFormatException.class, () -> Safetensors.read(bytes));
    for (String fragment : fragments) {
      assertTrue(message.contains(fragment), "expected '" + fragment + "' in: " + message);
      assertTrue(
          fromBytes.getMessage().contains(fragment),
          "expected '" + fragment + "' in: " + fromBytes.getMessage());
    }
    assertEquals(e.tensor(), fromBytes.tensor());
    return e;
  }

  private SafetensorsFormatException assertBadHeader(
      String header, int dataBytes, String... fragments) throws IOException {
    return assertBad(file(header, new byte[dataBytes]), fragments);
  }

  /** Like {@link #assertBadHeader}, and the tensor named in the exception must be {@code name}. */
  private void assertBadTensor(String header, int dataBytes, String name, String... fragments)
      throws IOException {
    SafetensorsFormatException e = assertBadHeader(header, dataBytes, fragments);
    assertEquals(name, e.tensor(), e.getMessage());
    assertTrue(e.getMessage().contains("tensor '" + name + "'"), e.getMessage());
  }

  private static String entry(String dtype, String shape, long begin, long end) {
    return "{\"dtype\":\""
        + dtype
        + "\",\"shape\":"
        + shape
        + ",\"data_offsets\":["
        + begin
        + ","
        + end
        + "]}";
  }

  // ---- Round trips ----

  @Test
  void roundTripsEveryDtypeShapeAndLayoutWithMetadata() throws IOException {
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "pt");
    metadata.put("ünïcode ✓", "värde \"quoted\" \\ \n");
    metadata.put("empty", "");
    try (MemoryScope scope = MemoryScope.open()) {
      Map<String, NDArray> in = new LinkedHashMap<>();
      in.put("bool", NDArray.of(new boolean[] {true, false, true, true, false, false}, 2, 3));
      in.put(
          "i32", NDArray.of(new int[] {1, -2, 3, Integer.MIN_VALUE, Integer.MAX_VALUE, 0}, 3, 2));
      in.put("i64", NDArray.of(new long[] {Long.MIN_VALUE, -1, 0, 1, Long.MAX_VALUE}));
      in.put(
          "f32",
          NDArray.of(
              new float[] {1.5f, -0f, Float.NaN, Float.NEGATIVE_INFINITY, 1e-40f, 3f}, 1, 2, 3));
      in.put(
          "f64", NDArray.of(new double[] {Math.PI, -Math.E, Double.MIN_VALUE, Double.NaN}, 2, 2));
      in.put("scalar_f64", NDArray.scalar(2.5, DType.FLOAT64));
      in.put("scalar_i32", NDArray.scalar(-7, DType.INT32));
      in.put("scalar_bool", NDArray.scalar(1, DType.BOOL));
      in.put("empty_rows", NDArray.empty(DType.FLOAT32, 0, 3));
      in.put("empty_cols", NDArray.empty(DType.INT64, 2, 0));
      in.put("empty_bool", NDArray.empty(DType.BOOL, 0));
      // Non-contiguous: transposed, strided, broadcast (stride 0), and a contiguous view at a
      // non-zero storage offset.
      in.put("transposed", NDArray.of(new float[] {0, 1, 2, 3, 4, 5}, 2, 3).transpose(0, 1));
      in.put("strided", NDArray.arange(10).slice(0, 1, 9, 3));
      in.put("expanded", NDArray.of(new int[] {7, 8}, 2, 1).expand(2, 3));
      in.put(
          "offset_view", NDArray.of(new double[] {0, 1, 2, 3, 4, 5, 6, 7}, 4, 2).narrow(0, 1, 2));
      in.put(
          "bool_transposed",
          NDArray.of(new boolean[] {true, false, false, false, true, true}, 2, 3).t());
      assertFalse(in.get("transposed").isContiguous());
      assertFalse(in.get("strided").isContiguous());
      assertFalse(in.get("expanded").isContiguous());
      assertTrue(in.get("offset_view").layout().offset() > 0);

      Path f = dir.resolve("all.safetensors");
      Safetensors.write(f, in, metadata);
      byte[] bytes = Safetensors.toBytes(in, metadata);
      assertArrayEquals(bytes, Files.readAllBytes(f), "write() and toBytes() must agree");
      assertEquals(List.of(f), filesInDir(), "no temporary file may be left behind");

      try (SafetensorsFile fromFile = Safetensors.read(f);
          SafetensorsFile fromBytes = Safetensors.read(bytes)) {
        for (SafetensorsFile read : List.of(fromFile, fromBytes)) {
          // by element size, largest first, then insertion order (see Safetensors.write)
          List<String> expectedOrder = new ArrayList<>(in.keySet());
          expectedOrder.sort(java.util.Comparator.comparingInt(k -> -in.get(k).dtype().byteSize()));
          assertEquals(expectedOrder, new ArrayList<>(read.tensors().keySet()));
          assertEquals(metadata, read.metadata());
          for (Map.Entry<String, NDArray> e : in.entrySet()) {
            NDArray expected = e.getValue();
            NDArray actual = read.tensors().get(e.getKey());
            assertEquals(expected.dtype(), actual.dtype(), e.getKey());
            assertArrayEquals(expected.shape(), actual.shape(), e.getKey());
            // Compared as layouts: Layout.isContiguous() is false for some empty shapes ([2, 0]).
            assertEquals(Layout.contiguous(actual.shape()), actual.layout(), e.getKey());
            assertArrayEquals(bits(expected), bits(actual), e.getKey());
          }
        }
      }
      // Inputs stay open: the caller owns them.
      assertFalse(in.get("f32").isClosed());
    }
  }

  @Test
  void roundTripsNoTensorsAndNoMetadata() throws IOException {
    Path f = dir.resolve("empty.safetensors");
    Safetensors.write(f, Map.of(), null);
    try (SafetensorsFile read = Safetensors.read(f)) {
      assertTrue(read.tensors().isEmpty());
      assertTrue(read.metadata().isEmpty());
    }
    assertFalse(header(Files.readAllBytes(f)).contains("__metadata__"));
  }

  @Test
  void takeHandsAnArrayToTheCaller() throws IOException {
    byte[] bytes;
    try (NDArray a = NDArray.of(new float[] {1, 2});
        NDArray b = NDArray.of(new long[] {3})) {
      bytes = Safetensors.toBytes(Map.of("a", a, "b", b), Map.of());
    }
    NDArray kept;
    NDArray dropped;
    try (SafetensorsFile read = Safetensors.read(bytes)) {
      kept = read.take("a");
      dropped = read.tensors().get("b");
      assertFalse(read.tensors().containsKey("a"));
      assertThrows(java.util.NoSuchElementException.class, () -> read.take("a"));
    }
    try (kept) {
      assertTrue(dropped.isClosed());
      assertFalse(kept.isClosed());
      assertArrayEquals(new float[] {1, 2}, kept.toFloatArray());
    }
  }

  @Test
  void overwritesAtomicallyAndLeavesTheOldFileOnFailure() throws IOException {
    Path f = dir.resolve("w.safetensors");
    try (NDArray a = NDArray.of(new float[] {1, 2, 3});
        NDArray b = NDArray.of(new float[] {4})) {
      Safetensors.write(f, Map.of("a", a), Map.of("v", "1"));
      Safetensors.write(f, Map.of("b", b), Map.of("v", "2"));
      byte[] good = Files.readAllBytes(f);
      try (SafetensorsFile read = Safetensors.read(f)) {
        assertEquals(List.of("b"), new ArrayList<>(read.tensors().keySet()));
        assertEquals("2", read.metadata().get("v"));
      }

      // A failure after the data was written (the rename onto a non-empty directory fails):
      // the temporary file is removed and the target is left as it was.
      Path blocked = dir.resolve("blocked");
      Files.createDirectories(blocked.resolve("inside"));
      assertThrows(IOException.class, () -> Safetensors.write(blocked, Map.of("a", a), null));
      assertTrue(Files.isDirectory(blocked.resolve("inside")));
      assertArrayEquals(good, Files.readAllBytes(f), "the other file must be untouched");
      assertEquals(List.of(blocked, f), filesInDir(), "the temporary file must be removed");

      // Bad arguments fail before any file is created.
      assertThrows(
          IllegalArgumentException.class,
          () -> Safetensors.write(dir.resolve("x"), Map.of("__metadata__", a), null));
      NDArray closed = NDArray.of(new float[] {1});
      closed.close();
      assertThrows(
          IllegalArgumentException.class,
          () -> Safetensors.write(dir.resolve("x"), Map.of("c", closed), null));
      assertEquals(List.of(blocked, f), filesInDir());
    }
  }

  @Test
  void missingFileIsAnIoErrorNotAFormatError() {
    assertThrows(NoSuchFileException.class, () -> Safetensors.read(dir.resolve("nope")));
  }

  // ---- The format, byte for byte ----

  @Test
  void readsAFileWrittenByHandFromTheSpec() throws IOException {
    String header =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"__metadata__\":{\"k\":\"v\"}}";
    Path f = dir.resolve("hand.safetensors");
    Files.write(f, file(header, leFloats(1.5f, -2f)));
    try (SafetensorsFile read = Safetensors.read(f)) {
      NDArray a = read.tensors().get("a");
      assertEquals(DType.FLOAT32, a.dtype());
      assertArrayEquals(new int[] {2}, a.shape());
      assertArrayEquals(new float[] {1.5f, -2f}, a.toFloatArray());
      assertEquals(Map.of("k", "v"), read.metadata());
    }
  }

  @Test
  void readsHeaderOrderOffsetOrderPaddingAndEdgeShapesAsTheSpecAllows() throws IOException {
    // Header order differs from data order, the header is space-padded, unknown keys are
    // ignored, and 0-d, empty and bool tensors sit between the others.
    String header =
        "{\"b\":"
            + entry("BOOL", "[3]", 16, 19)
            + ",\"a\":{\"dtype\":\"I64\",\"shape\":[2,1],\"data_offsets\":[0,16],\"extra\":[1]}"
            + ",\"z\":"
            + entry("F32", "[0,4]", 19, 19)
            + ",\"s\":"
            + entry("F64", "[]", 19, 27)
            + "}     ";
    ByteBuffer f64 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(-0.25);
    byte[] data = concat(leLongs(-3, 1L << 40), new byte[] {1, 0, 1}, f64.array());
    try (SafetensorsFile read = Safetensors.read(file(header, data))) {
      assertEquals(List.of("b", "a", "z", "s"), new ArrayList<>(read.tensors().keySet()));
      assertArrayEquals(new long[] {-3, 1L << 40}, read.tensors().get("a").toLongArray());
      assertArrayEquals(new int[] {2, 1}, read.tensors().get("a").shape());
      assertArrayEquals(
          new boolean[] {true, false, true}, read.tensors().get("b").toBooleanArray());
      assertArrayEquals(new int[] {0, 4}, read.tensors().get("z").shape());
      NDArray s = read.tensors().get("s");
      assertEquals(0, s.ndim());
      assertEquals(-0.25, s.item());
      assertTrue(read.metadata().isEmpty());
    }
  }

  /**
   * Expected bytes worked out from the format description; the first four inputs are the ones the
   * reference Rust crate's own serialization tests use, with the same results.
   */
  @Test
  void writerProducesTheSpecLayout() throws IOException {
    try (NDArray a = NDArray.of(new float[] {0, 1, 2, 3, 4, 5}, 1, 2, 3);
        NDArray a4 = NDArray.of(new float[] {0, 1, 2, 3, 4, 5}, 1, 1, 2, 3)) {
      String json = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
      assertEquals(64, json.length()); // already a multiple of 8: no padding
      assertArrayEquals(
          file(json, leFloats(0, 1, 2, 3, 4, 5)), Safetensors.toBytes(Map.of("attn.0", a), null));

      json = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}";
      assertEquals(65, json.length()); // padded with 7 spaces to 72
      assertArrayEquals(
          file(json + "       ", leFloats(0, 1, 2, 3, 4, 5)),
          Safetensors.toBytes(Map.of("attn0", a4), null));
    }
    assertArrayEquals(file("{}      ", new byte[0]), Safetensors.toBytes(Map.of(), null));
    assertArrayEquals(
        file("{\"__metadata__\":{\"framework\":\"pt\"}}     ", new byte[0]),
        Safetensors.toBytes(Map.of(), Map.of("framework", "pt")));
  }

  @Test
  void writerOutputMatchesTheSpecStructure() throws IOException {
    try (NDArray a = NDArray.of(new long[] {5, -6, 7});
        NDArray b = NDArray.of(new boolean[] {true, false, true, false, true});
        NDArray c = NDArray.of(new float[] {0.5f, -1f, 2f, 8f}, 2, 2)) {
      Map<String, NDArray> in = new LinkedHashMap<>();
      in.put("a", a);
      in.put("b", b);
      in.put("c", c);
      Path f = dir.resolve("s.safetensors");
      Safetensors.write(f, in, Map.of("who", "ember"));
      byte[] bytes = Files.readAllBytes(f);

      long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
      assertEquals(0, n % 8, "the header is padded to 8 bytes");
      String text = header(bytes);
      assertTrue(text.substring(text.stripTrailing().length()).chars().allMatch(ch -> ch == ' '));
      JsonNode root = JSON.readTree(text);
      assertEquals("ember", root.get("__metadata__").get("who").asText());
      // largest elements first, so every offset is a multiple of its element size
      assertEquals(List.of("__metadata__", "a", "c", "b"), iterableToList(root.fieldNames()));

      long dataStart = 8 + n;
      // a: I64 [3] at [0, 24); c: F32 [2, 2] at [24, 40); b: BOOL [5] at [40, 45)
      long[][] offsets = {{0, 24}, {40, 45}, {24, 40}};
      String[] dtypes = {"I64", "BOOL", "F32"};
      int[][] shapes = {{3}, {5}, {2, 2}};
      String[] names = {"a", "b", "c"};
      for (int i = 0; i < 3; i++) {
        JsonNode info = root.get(names[i]);
        assertEquals(dtypes[i], info.get("dtype").asText());
        assertEquals(shapes[i].length, info.get("shape").size());
        for (int d = 0; d < shapes[i].length; d++) {
          assertEquals(shapes[i][d], info.get("shape").get(d).asInt());
        }
        assertEquals(offsets[i][0], info.get("data_offsets").get(0).asLong());
        assertEquals(offsets[i][1], info.get("data_offsets").get(1).asLong());
      }
      assertEquals(dataStart + 45, bytes.length, "the data section ends the file");
      ByteBuffer data =
          ByteBuffer.wrap(bytes, (int) dataStart, 45).slice().order(ByteOrder.LITTLE_ENDIAN);
      assertEquals(5, data.getLong(0));
      assertEquals(-6, data.getLong(8));
      assertEquals(7, data.getLong(16));
      assertArrayEquals(
          new byte[] {1, 0, 1, 0, 1},
          Arrays.copyOfRange(bytes, (int) dataStart + 40, (int) dataStart + 45));
      assertEquals(0.5f, data.getFloat(24));
      assertEquals(-1f, data.getFloat(28));
      assertEquals(2f, data.getFloat(32));
      assertEquals(8f, data.getFloat(36));
    }
  }

  private static List<String> iterableToList(Iterator<String> it) {
    List<String> out = new ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }

  // ---- Validation: one test per rule ----

  @Test
  void rejectsAFileShorterThanTheLengthPrefix() throws IOException {
    assertBad(new byte[] {1, 2, 3}, "3 bytes long", "shorter than the 8-byte");
    assertBad(new byte[0], "0 bytes long");
  }

  @Test
  void rejectsAHeaderLengthPastTheEndOfTheFile() throws IOException {
    byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
    assertBad(file(100, h, new byte[0]), "header of 100 bytes", "past the end of the file");
  }

  @Test
  void rejectsAnAbsurdlyLargeHeaderLength() throws IOException {
    byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
    assertBad(file(100_000_001, h, new byte[0]), "100000001", "100000000-byte limit");
    // The length is a u64: all ones is 2^64 - 1, not -1.
    assertBad(file(-1L, h, new byte[0]), "18446744073709551615", "limit");
  }

  @Test
  void rejectsAHeaderThatIsNotUtf8() throws IOException {
    byte[] h = {'{', '"', (byte) 0xff, '"', ':', '1', '}'};
    assertBad(file(h.length, h, new byte[0]), "not valid UTF-8", "offset 2");
    // A surrogate encoded in UTF-8 (CESU style) is not UTF-8 either.
    byte[] s = {'{', '"', (byte) 0xed, (byte) 0xa0, (byte) 0x80, '"', ':', '1', '}'};
    assertBad(file(s.length, s, new byte[0]), "not valid UTF-8");
  }

  @Test
  void rejectsAHeaderThatIsNotJson() throws IOException {
    assertBadHeader("{\"a\":", 0, "not valid JSON");
    assertBadHeader("{'a': 1}", 0, "not valid JSON", "line 1");
    assertBadHeader("{} x", 0, "not valid JSON");
    assertBadHeader("{} {}", 0, "not valid JSON", "follows the object");
  }

  @Test
  void rejectsAHeaderThatIsNotAnObject() throws IOException {
    assertBadHeader("[1, 2]", 0, "not a JSON object", "starts with an array");
    assertBadHeader("\"F32\"", 0, "not a JSON object", "a string");
    assertBadHeader("", 0, "not a JSON object", "is empty");
    assertBadHeader("        ", 0, "not a JSON object", "is empty");
  }

  @Test
  void rejectsAnEntryMissingAField() throws IOException {
    assertBadTensor("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "w", "no 'dtype'");
    assertBadTensor("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "w", "no 'shape'");
    assertBadTensor("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "w", "no 'data_offsets'");
  }

  @Test
  void rejectsAnEntryWithWrongJsonTypes() throws IOException {
    assertBadTensor("{\"w\":[1]}", 0, "w", "is an array in the header", "not an object");
    assertBadTensor("{\"w\":null}", 0, "w", "is null in the header");
    assertBadTensor(
        "{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}",
        4,
        "w",
        "dtype 32",
        "not a string");
    assertBadTensor("{\"w\":" + entry("F32", "\"1\"", 0, 4) + "}", 4, "w", "not an array of sizes");
    assertBadTensor("{\"w\":" + entry("F32", "[1.0]", 0, 4) + "}", 4, "w", "is not an integer");
    assertBadTensor(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
        4,
        "w",
        "not an array of two integers");
    assertBadTensor(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"begin\":0}}}",
        4,
        "w",
        "not an array of two integers");
    assertBadTensor(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}",
        4,
        "w",
        "data offset \"4\", not an integer");
  }

  @Test
  void rejectsAnUnknownDtypeAndNamesForeignOnes() throws IOException {
    assertBadTensor("{\"w\":" + entry("Q7", "[1]", 0, 4) + "}", 4, "w", "unknown dtype 'Q7'");
    assertBadTensor("{\"w\":" + entry("f32", "[1]", 0, 4) + "}", 4, "w", "unknown dtype 'f32'");
    assertBadTensor(
        "{\"w\":" + entry("BF16", "[2]", 0, 4) + "}",
        4,
        "w",
        "dtype BF16",
        "valid safetensors dtype that Ember cannot hold");
    assertBadTensor(
        "{\"w\":" + entry("F16", "[2]", 0, 4) + "}", 4, "w", "dtype F16", "Ember cannot hold");
  }

  @Test
  void rejectsNegativeAndOversizedDims() throws IOException {
    assertBadTensor("{\"w\":" + entry("F32", "[-1]", 0, 4) + "}", 4, "w", "negative size");
    assertBadTensor(
        "{\"w\":" + entry("F32", "[1,2147483648]", 0, 4) + "}",
        4,
        "w",
        "larger than Ember's largest dim");
  }

  @Test
  void rejectsAShapeThatDoesNotMatchTheByteRange() throws IOException {
    assertBadTensor(
        "{\"w\":" + entry("F32", "[3]", 0, 8) + "}",
        8,
        "w",
        "shape [3] of F32",
        "needs 12 bytes",
        "span 8 bytes");
    assertBadTensor("{\"w\":" + entry("I64", "[]", 0, 4) + "}", 4, "w", "needs 8 bytes");
    assertBadTensor(
        "{\"w\":" + entry("F64", "[2147483647,2147483647,2147483647]", 0, 8) + "}",
        8,
        "w",
        "overflows");
  }

  @Test
  void rejectsOffsetsOutOfTheDataSection() throws IOException {
    assertBadTensor(
        "{\"w\":" + entry("F32", "[4]", 0, 16) + "}",
        8,
        "w",
        "data offset 16",
        "past the end of the data section (8 bytes");
    assertBadTensor("{\"w\":" + entry("F32", "[1]", -4, 0) + "}", 8, "w", "negative data offset");
    assertBadTensor(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}",
        8,
        "w",
        "data offset 18446744073709551616",
        "past the end of the data section");
  }

  @Test
  void rejectsBeginAfterEnd() throws IOException {
    assertBadTensor("{\"w\":" + entry("F32", "[2]", 8, 0) + "}", 8, "w", "[8, 0]", "begin > end");
  }

  @Test
  void rejectsOverlappingTensors() throws IOException {
    assertBadTensor(
        "{\"a\":" + entry("F32", "[2]", 0, 8) + ",\"b\":" + entry("F32", "[2]", 4, 12) + "}",
        12,
        "b",
        "overlap tensor 'a'");
    // The same range twice.
    assertBadTensor(
        "{\"a\":" + entry("F32", "[2]", 0, 8) + ",\"b\":" + entry("I32", "[2]", 0, 8) + "}",
        8,
        "b",
        "overlap tensor 'a'");
    // An empty tensor inside another's range.
    assertBadTensor(
        "{\"a\":" + entry("F32", "[2]", 0, 8) + ",\"e\":" + entry("F32", "[0]", 4, 4) + "}",
        8,
        "e",
        "overlap");
  }

  @Test
  void rejectsHolesInTheDataSection() throws IOException {
    assertBadTensor(
        "{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"b\":" + entry("F32", "[1]", 8, 12) + "}",
        12,
        "b",
        "leave a hole",
        "bytes [4, 8)");
    assertBadTensor("{\"a\":" + entry("F32", "[1]", 4, 8) + "}", 8, "a", "bytes [0, 4)");
    SafetensorsFormatException trailing =
        assertBadHeader("{\"a\":" + entry("F32", "[1]", 0, 4) + "}", 6, "cover only the first 4");
    assertNull(trailing.tensor());
    assertBadHeader("{}", 1, "data section of 1 bytes");
  }

  @Test
  void rejectsMetadataThatIsNotAMapOfStrings() throws IOException {
    assertBadHeader(
        "{\"__metadata__\":{\"k\":1}}",
        0,
        "value 1 for key 'k'",
        "metadata values must be strings");
    assertBadHeader("{\"__metadata__\":{\"k\":null}}", 0, "key 'k'", "must be strings");
    assertBadHeader("{\"__metadata__\":[\"k\"]}", 0, "'__metadata__' as an array");
    assertBadHeader("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "key 'k' twice");
  }

  @Test
  void rejectsDuplicateNames() throws IOException {
    String e = entry("F32", "[1]", 0, 4);
    assertBadTensor("{\"w\":" + e + ",\"w\":" + e + "}", 4, "w", "appears twice", "duplicate");
    assertBadTensor(
        "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        4,
        "w",
        "key 'dtype' twice");
    assertBadHeader("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "'__metadata__' twice");
  }

  @Test
  void aBadTensorAfterGoodOnesAllocatesNothing() throws IOException {
    // The whole header is validated before any array is allocated; the leak check that runs
    // after every test verifies that nothing stays allocated.
    String header =
        "{\"a\":"
            + entry("F32", "[1]", 0, 4)
            + ",\"b\":"
            + entry("F32", "[1]", 4, 8)
            + ",\"c\":"
            + entry("BF16", "[2]", 8, 12)
            + "}";
    assertBadTensor(header, 12, "c", "BF16");
  }

  // ---- Budgets and header-only reads ----

  @Test
  void aHugeTensorOverASparseFileIsRefusedBeforeAllocating() throws IOException {
    // 2^28 x 1024 F32 = 2^40 bytes (1 TiB): a valid header whose data range the file's length
    // matches, without the file taking space on disk. No machine this runs on has 1 TiB of RAM,
    // so the default budget (never above physical memory) refuses it.
    long bytes = 1L << 40;
    String header = "{\"huge\":" + entry("F32", "[268435456,1024]", 0, bytes) + "}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    Path f = dir.resolve("sparse.safetensors");
    Files.write(f, file(h.length, h, new byte[0]));
    try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(8 + h.length + bytes);
    }
    long before = org.emberdl.tensor.memory.Allocators.cpuAllocatedBytes();
    SafetensorsTooLargeException e =
        assertThrows(SafetensorsTooLargeException.class, () -> Safetensors.read(f));
    assertEquals(before, org.emberdl.tensor.memory.Allocators.cpuAllocatedBytes());
    assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("'huge'"), e.getMessage());
    assertTrue(e.getMessage().contains("1099511627776 bytes"), e.getMessage());
    assertEquals(bytes, e.bytes());
    assertTrue(e.budget() < bytes);
    // The header alone is readable, and describes the tensor without allocating it.
    assertEquals(
        List.of(
            new Safetensors.TensorInfo("huge", DType.FLOAT32, new int[] {268435456, 1024}, bytes)),
        Safetensors.readHeader(f));
  }

  @Test
  void anExplicitBudgetBoundsTheTotalOfAllTensors() throws IOException {
    // a: 2 F32 = 8 bytes, b: 1 I64 = 8 bytes; 16 bytes in all.
    String header =
        "{\"a\":" + entry("F32", "[2]", 0, 8) + ",\"b\":" + entry("I64", "[1]", 8, 16) + "}";
    byte[] bytes = file(header, concat(leFloats(1f, 2f), leLongs(7)));
    Path f = dir.resolve("two.safetensors");
    Files.write(f, bytes);
    SafetensorsTooLargeException e =
        assertThrows(SafetensorsTooLargeException.class, () -> Safetensors.read(f, 15));
    assertEquals(
        "safetensors "
            + f
            + " holds tensors of 16 bytes in all (the largest, 'a'), over the memory budget of 15"
            + " bytes; raise the budget (-Demberdl.cpu.maxBytes, or the caller's limit) if the"
            + " file is trusted",
        e.getMessage());
    SafetensorsTooLargeException fromBytes =
        assertThrows(SafetensorsTooLargeException.class, () -> Safetensors.read(bytes, 15));
    assertTrue(fromBytes.getMessage().contains("byte array of " + bytes.length + " bytes"));
    try (SafetensorsFile ok = Safetensors.read(f, 16)) {
      assertArrayEquals(new float[] {1f, 2f}, ok.tensors().get("a").toFloatArray());
      assertArrayEquals(new long[] {7}, ok.tensors().get("b").toLongArray());
    }
    assertEquals(
        List.of(
            new Safetensors.TensorInfo("a", DType.FLOAT32, new int[] {2}, 8),
            new Safetensors.TensorInfo("b", DType.INT64, new int[] {1}, 8)),
        Safetensors.readHeader(bytes));
  }

  @Test
  void headerOnlyReadsValidateAsStrictlyAsFullReads() throws IOException {
    // A truncated file: the header promises 8 bytes of data, the file holds 4.
    byte[] truncated = file("{\"w\":" + entry("F32", "[2]", 0, 8) + "}", leFloats(1f));
    SafetensorsFormatException e =
        assertThrows(SafetensorsFormatException.class, () -> Safetensors.readHeader(truncated));
    assertEquals("w", e.tensor());
    assertTrue(e.getMessage().contains("past the end of the data section"), e.getMessage());
    // A dtype Ember cannot hold.
    Path f = dir.resolve("bf16.safetensors");
    Files.write(f, file("{\"h\":" + entry("BF16", "[2]", 0, 4) + "}", new byte[4]));
    SafetensorsFormatException d =
        assertThrows(SafetensorsFormatException.class, () -> Safetensors.readHeader(f));
    assertTrue(d.getMessage().contains(f.toString()) && d.getMessage().contains("BF16"));
  }

  @Test
  void streamedHeadersAndDataViewsNeedNoArrays() throws IOException {
    // a: F32 [2] = {1.5, NaN}; b: I64 [1] = {7}.
    String header =
        "{\"a\":" + entry("F32", "[2]", 0, 8) + ",\"b\":" + entry("I64", "[1]", 8, 16) + "}";
    byte[] bytes = file(header, concat(leFloats(1.5f, Float.NaN), leLongs(7)));
    List<Safetensors.TensorInfo> expected =
        List.of(
            new Safetensors.TensorInfo("a", DType.FLOAT32, new int[] {2}, 8),
            new Safetensors.TensorInfo("b", DType.INT64, new int[] {1}, 8));
    assertEquals(
        expected,
        Safetensors.readHeader(new java.io.ByteArrayInputStream(bytes), bytes.length, "stream"));
    // A stream shorter than the size it is said to have: its header cannot be read.
    SafetensorsFormatException shortStream =
        assertThrows(
            SafetensorsFormatException.class,
            () ->
                Safetensors.readHeader(
                    new java.io.ByteArrayInputStream(bytes, 0, 20), bytes.length, "stream"));
    assertTrue(shortStream.getMessage().startsWith("invalid safetensors stream: "));
    // The declared size must hold the data the header describes.
    SafetensorsFormatException tooSmall =
        assertThrows(
            SafetensorsFormatException.class,
            () ->
                Safetensors.readHeader(
                    new java.io.ByteArrayInputStream(bytes), bytes.length - 4, "stream"));
    assertEquals("b", tooSmall.tensor());

    Map<String, ByteBuffer> views = Safetensors.dataViews(bytes);
    assertEquals(List.of("a", "b"), List.copyOf(views.keySet()));
    assertEquals(1.5f, views.get("a").getFloat(0));
    assertTrue(Float.isNaN(views.get("a").getFloat(4)));
    assertEquals(7L, views.get("b").getLong(0));
    assertTrue(views.get("a").isReadOnly());
  }
}
