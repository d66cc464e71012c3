package org.emberdl.tensor.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.arrow.memory.util.MemoryUtil;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Shape;
import org.emberdl.tensor.memory.Allocators;
import org.emberdl.tensor.memory.HostMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads and writes <a href="https://github.com/huggingface/safetensors">safetensors</a>, the format
 * PyTorch users share weights in: an 8-byte little-endian header length {@code N}, {@code N} bytes
 * of UTF-8 JSON mapping each tensor name to {@code {"dtype", "shape", "data_offsets"}} (plus an
 * optional {@code "__metadata__"} map of strings), then the tensors' little-endian, row-major
 * bytes, which must tile the rest of the file exactly.
 *
 * <p>Reading validates the whole header before allocating anything, as strictly as the reference
 * Rust implementation does, and throws {@link SafetensorsFormatException} naming the source, the
 * tensor and the problem. Tensor data moves between the file and off-heap array memory through
 * {@link FileChannel}s, never through the Java heap.
 *
 * <p>Ember holds the safetensors dtypes {@code BOOL, I32, I64, F32, F64}; files with other dtypes
 * ({@code F16}, {@code BF16}, ...) are rejected with a message that says so.
 */
public final class Safetensors {
  private static final Logger LOG = LoggerFactory.getLogger(Safetensors.class);

  /** The largest header accepted, as in the Rust crate (its {@code MAX_HEADER_SIZE}). */
  public static final long MAX_HEADER_BYTES = 100_000_000L;

  private static final String METADATA_KEY = "__metadata__";
  private static final int PREFIX_BYTES = 8;

  /** Bytes per ByteBuffer view of off-heap memory: views are int-sized, tensors need not be. */
  private static final int CHUNK_BYTES = 1 << 30;

  /** Valid safetensors dtypes without an Ember counterpart: named as such in errors. */
  private static final Set<String> FOREIGN_DTYPES =
      Set.of(
          "U8", "I8", "I16", "U16", "U32", "U64", "F16", "BF16", "F8_E5M2", "F8_E4M3", "F8_E8M0",
          "F6_E2M3", "F6_E3M2", "F4", "C64");

  // Jackson's default limits (20M-char strings, 50k-char names) are below what a legal 100 MB
  // header may hold; the header length cap already bounds the work.
  private static final ObjectMapper JSON =
      new ObjectMapper(
          JsonFactory.builder()
              .streamReadConstraints(
                  StreamReadConstraints.builder()
                      .maxStringLength((int) MAX_HEADER_BYTES)
                      .maxNameLength((int) MAX_HEADER_BYTES)
                      .build())
              .build());

  private Safetensors() {}

  // ---------------------------------------------------------------------------------------------
  // Writing

  /**
   * Writes {@code tensors} to {@code file} in safetensors format, atomically: the bytes go to a
   * temporary file in the same directory, are forced to disk, and the temporary file is then
   * renamed over {@code file}, so readers (and a crash) see either the old file or the complete new
   * one.
   *
   * <p>The data section holds the tensors by element size, largest first, and otherwise in the
   * map's iteration order (the header lists them in the same order, after {@code __metadata__}).
   * Like the Rust writer's ordering, this keeps every tensor's offset aligned to its element size,
   * which loaders that map the file into memory (PyTorch's among them) require. Arrays may be
   * non-contiguous or on any device: each is made a contiguous host array one at a time (a view
   * when it already is one) and written straight from off-heap memory. The arrays stay open; the
   * caller still owns them.
   *
   * @param file the destination; replaced if it exists
   * @param tensors names to arrays; no name may be {@code "__metadata__"}
   * @param metadata free-form string pairs stored as {@code __metadata__}; may be null or empty
   *     (then no {@code __metadata__} is written)
   * @throws IllegalArgumentException for a null or reserved name, a null or closed array, null
   *     metadata entries, or a header over {@link #MAX_HEADER_BYTES}
   * @throws IOException when writing or renaming fails; {@code file} is then left as it was and the
   *     temporary file is removed
   */
  public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
      throws IOException {
    checkLittleEndianHost();
    Objects.requireNonNull(file, "file");
    tensors = alignedOrder(tensors);
    byte[] header = header(tensors, metadata);
    Path target = file.toAbsolutePath();
    Path tmp =
        target.resolveSibling(
            "."
                + target.getFileName()
                + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong())
                + ".tmp");
    long dataBytes = 0;
    try {
      // CREATE_NEW with default attributes: the file gets the umask's permissions, unlike
      // Files.createTempFile's owner-only ones, which would stick to the renamed result.
      try (FileChannel ch =
          FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer prefix = ByteBuffer.allocate(PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(0, header.length);
        writeFully(ch, prefix);
        writeFully(ch, ByteBuffer.wrap(header));
        for (NDArray a : tensors.values()) {
          hostBytes(a, (address, length) -> writeFully(ch, address, length));
          dataBytes += byteSize(a);
        }
        // Durable before visible: renaming first could leave an empty or partial file under the
        // final name after a power loss.
        ch.force(true);
      }
      moveIntoPlace(tmp, target);
    } catch (Throwable t) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException e) {
        t.addSuppressed(e);
      }
      throw t;
    }
    LOG.debug(
        "wrote {} tensors ({} data bytes, {} header bytes) to {}",
        tensors.size(),
        dataBytes,
        header.length,
        target);
  }

  /**
   * The safetensors bytes of {@code tensors}: exactly what {@link #write} puts in a file.
   *
   * @param tensors names to arrays, written in iteration order; the arrays stay open
   * @param metadata string pairs stored as {@code __metadata__}; may be null or empty
   * @throws IllegalArgumentException as {@link #write}, or when the result would exceed the largest
   *     Java array (use {@link #write} then)
   */
  public static byte[] toBytes(Map<String, NDArray> tensors, Map<String, String> metadata) {
    checkLittleEndianHost();
    tensors = alignedOrder(tensors);
    byte[] header = header(tensors, metadata);
    long total = PREFIX_BYTES + header.length;
    for (NDArray a : tensors.values()) {
      total += byteSize(a);
    }
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "the safetensors bytes would be " + total + " bytes, too many for a Java array");
    }
    byte[] out = new byte[(int) total];
    ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
    System.arraycopy(header, 0, out, PREFIX_BYTES, header.length);
    int position = PREFIX_BYTES + header.length;
    for (NDArray a : tensors.values()) {
      int at = position;
      hostBytes(a, (address, length) -> HostMemory.copyOut(address, out, at, (int) length));
      position += (int) byteSize(a);
    }
    return out;
  }

  /** The tensors, stably sorted by element size, largest first (see {@link #write}). */
  private static Map<String, NDArray> alignedOrder(Map<String, NDArray> tensors) {
    Objects.requireNonNull(tensors, "tensors");
    Map<String, NDArray> sorted = new LinkedHashMap<>();
    for (int size = 8; size >= 1; size /= 2) {
      for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
        NDArray a = e.getValue();
        if (a == null || a.dtype().byteSize() == size) {
          sorted.putIfAbsent(e.getKey(), a);
        }
      }
    }
    return sorted;
  }

  /** The JSON header, space-padded to a multiple of 8 bytes as the Rust writer pads it. */
  private static byte[] header(Map<String, NDArray> tensors, Map<String, String> metadata) {
    Objects.requireNonNull(tensors, "tensors");
    ObjectNode root = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = root.putObject(METADATA_KEY);
      for (Map.Entry<String, String> e : metadata.entrySet()) {
        if (e.getKey() == null || e.getValue() == null) {
          throw new IllegalArgumentException(
              "metadata keys and values must not be null: " + e.getKey() + " -> " + e.getValue());
        }
        meta.put(e.getKey(), e.getValue());
      }
    }
    long offset = 0;
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      String name = e.getKey();
      NDArray a = e.getValue();
      if (name == null) {
        throw new IllegalArgumentException("tensor names must not be null");
      }
      if (name.equals(METADATA_KEY)) {
        throw new IllegalArgumentException(
            "'" + METADATA_KEY + "' is reserved for the metadata map and cannot name a tensor");
      }
      if (a == null) {
        throw new IllegalArgumentException("tensor '" + name + "' is null");
      }
      if (a.isClosed()) {
        throw new IllegalArgumentException("tensor '" + name + "' was closed: " + a);
      }
      long bytes = byteSize(a);
      ObjectNode info = root.putObject(name);
      info.put("dtype", a.dtype().safetensorsName());
      ArrayNode shape = info.putArray("shape");
      for (int size : a.shape()) {
        shape.add(size);
      }
      info.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize a JSON tree of strings and numbers", e);
    }
    long padded = (json.length + 7L) & ~7L;
    if (padded > MAX_HEADER_BYTES) {
      throw new IllegalArgumentException(
          "the header would be "
              + padded
              + " bytes, over the "
              + MAX_HEADER_BYTES
              + "-byte limit readers enforce");
    }
    byte[] header = Arrays.copyOf(json, (int) padded);
    Arrays.fill(header, json.length, header.length, (byte) ' ');
    return header;
  }

  private static long byteSize(NDArray a) {
    return a.numel() * a.dtype().byteSize();
  }

  /** Receives the address and length of an array's contiguous host bytes. */
  @FunctionalInterface
  private interface HostBytes<E extends Exception> {
    void accept(long address, long length) throws E;
  }

  /** Hands {@code sink} the array's bytes in row-major order, copying only when it must. */
  private static <E extends Exception> void hostBytes(NDArray a, HostBytes<E> sink) throws E {
    long length = byteSize(a);
    if (length == 0) {
      return; // an empty array may have no memory at all
    }
    try (NDArray host = a.to(Device.CPU);
        NDArray dense = host.contiguous()) {
      long address = dense.storage().address() + dense.layout().offset() * a.dtype().byteSize();
      sink.accept(address, length);
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      ch.write(buffer);
    }
  }

  private static void writeFully(FileChannel ch, long address, long length) throws IOException {
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(CHUNK_BYTES, length - done);
      writeFully(ch, MemoryUtil.directBuffer(address + done, n));
      done += n;
    }
  }

  private static void moveIntoPlace(Path tmp, Path target) throws IOException {
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      // Some file systems (and some network mounts) cannot rename atomically; a plain replace
      // is still better than failing, but readers may then briefly see no file.
      LOG.warn("{} does not support atomic renames; replacing {} non-atomically", tmp, target);
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /**
   * Reads every tensor of a safetensors file into new contiguous CPU arrays, within {@link
   * #defaultReadBudget()}; see {@link #read(Path, long)}.
   */
  public static SafetensorsFile read(Path file) throws IOException {
    return read(file, defaultReadBudget());
  }

  /**
   * Reads every tensor of a safetensors file into new contiguous CPU arrays.
   *
   * <p>The header is validated in full, and the tensors' total size checked against {@code
   * maxBytes}, before any array is allocated; each tensor's bytes are then read from the file
   * straight into its array's off-heap memory. On any failure the arrays allocated so far are
   * closed.
   *
   * @param maxBytes the most bytes of arrays this read may allocate
   * @return the tensors in header order and the metadata; close it to free the arrays, or {@link
   *     SafetensorsFile#take take} the ones to keep
   * @throws SafetensorsFormatException when the file breaks the format or holds a dtype Ember
   *     cannot represent; the message names the file, the tensor and the problem
   * @throws SafetensorsTooLargeException when the tensors need more than {@code maxBytes} (a valid
   *     header may describe terabytes, e.g. over a sparse file)
   * @throws IOException when the file cannot be read
   */
  public static SafetensorsFile read(Path file, long maxBytes) throws IOException {
    checkLittleEndianHost();
    String source = file.toString();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long[] dataStart = new long[1];
      Header header = readHeader(ch, source, dataStart);
      SafetensorsFile result =
          load(
              source,
              header,
              maxBytes,
              dataStart[0],
              (tensor, position, address, length) ->
                  readFully(ch, source, tensor, position, address, length));
      LOG.debug("read {} tensors ({} bytes) from {}", header.entries().size(), ch.size(), file);
      return result;
    }
  }

  /**
   * Reads every tensor of an in-memory safetensors file into new contiguous CPU arrays, within
   * {@link #defaultReadBudget()}; see {@link #read(Path, long)}.
   *
   * @throws SafetensorsFormatException when the bytes break the format or hold a dtype Ember cannot
   *     represent
   */
  public static SafetensorsFile read(byte[] bytes) throws SafetensorsFormatException {
    return read(bytes, defaultReadBudget());
  }

  /**
   * Reads every tensor of an in-memory safetensors file into new contiguous CPU arrays, allocating
   * at most {@code maxBytes}; see {@link #read(Path, long)}.
   *
   * @throws SafetensorsFormatException when the bytes break the format or hold a dtype Ember cannot
   *     represent
   * @throws SafetensorsTooLargeException when the tensors need more than {@code maxBytes}
   */
  public static SafetensorsFile read(byte[] bytes, long maxBytes)
      throws SafetensorsFormatException {
    checkLittleEndianHost();
    String source = source(bytes);
    Header header = parseHeader(source, bytes);
    // Validation guarantees every range lies inside the array.
    return load(
        source,
        header,
        maxBytes,
        PREFIX_BYTES + headerLength(source, bytes.length, prefix(bytes)),
        (tensor, position, address, length) ->
            HostMemory.copyIn(bytes, (int) position, address, (int) length));
  }

  /**
   * The tensors a safetensors file holds, as its header describes them, validated as strictly as
   * {@link #read(Path)} validates them; allocates no array and reads no tensor data.
   *
   * @throws SafetensorsFormatException when the file breaks the format
   * @throws IOException when the file cannot be read
   */
  public static List<TensorInfo> readHeader(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return infos(readHeader(ch, file.toString(), new long[1]));
    }
  }

  /**
   * The tensors an in-memory safetensors file holds, as its header describes them; see {@link
   * #readHeader(Path)}.
   *
   * @throws SafetensorsFormatException when the bytes break the format
   */
  public static List<TensorInfo> readHeader(byte[] bytes) throws SafetensorsFormatException {
    return infos(parseHeader(source(bytes), bytes));
  }

  /**
   * Each tensor's data in an in-memory safetensors file, in header order, as a read-only
   * little-endian view of {@code bytes} (no copy, no array allocated), after the same validation as
   * {@link #read(byte[])}; e.g. for scanning weights for NaN before they are saved.
   *
   * @throws SafetensorsFormatException when the bytes break the format
   */
  public static Map<String, ByteBuffer> dataViews(byte[] bytes) throws SafetensorsFormatException {
    String source = source(bytes);
    Header header = parseHeader(source, bytes);
    int dataStart = (int) (PREFIX_BYTES + headerLength(source, bytes.length, prefix(bytes)));
    Map<String, ByteBuffer> views = new LinkedHashMap<>();
    for (Entry e : header.entries()) {
      views.put(
          e.name(),
          ByteBuffer.wrap(bytes, dataStart + (int) e.begin(), (int) (e.end() - e.begin()))
              .slice()
              .asReadOnlyBuffer()
              .order(ByteOrder.LITTLE_ENDIAN));
    }
    return Collections.unmodifiableMap(views);
  }

  /**
   * The tensors of a safetensors file read from a stream positioned at its start, such as a Hadoop
   * file system's; reads only the length prefix and the header, and validates them as {@link
   * #readHeader(Path)} does.
   *
   * @param in the file's bytes from the first; left open, positioned after the header
   * @param size the file's length in bytes (the data section's size follows from it)
   * @param source the file as shown in messages
   * @throws SafetensorsFormatException when the header breaks the format or does not fit {@code
   *     size}
   * @throws IOException when the stream cannot be read
   */
  public static List<TensorInfo> readHeader(java.io.InputStream in, long size, String source)
      throws IOException {
    checkLittleEndianHost();
    ByteBuffer prefix = ByteBuffer.allocate(PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    if (size >= PREFIX_BYTES) {
      prefix.put(readExactly(in, PREFIX_BYTES, source));
    }
    long n = headerLength(source, size, prefix);
    byte[] header = readExactly(in, (int) n, source);
    return infos(parseHeader(source, ByteBuffer.wrap(header), size - PREFIX_BYTES - n));
  }

  private static byte[] readExactly(java.io.InputStream in, int n, String source)
      throws IOException {
    byte[] bytes = in.readNBytes(n);
    if (bytes.length < n) {
      throw new SafetensorsFormatException(
          source, null, "cannot be read: the file ended early (was it changed while being read?)");
    }
    return bytes;
  }

  /**
   * The most bytes {@link #read(Path)} allocates: what the CPU allocator may still hand out ({@code
   * -Demberdl.cpu.maxBytes}, or a limit its owner set), and never more than the machine's physical
   * memory, since a larger read could only fail or be killed midway.
   */
  public static long defaultReadBudget() {
    long budget = Allocators.cpu().getHeadroom();
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      long physical = os.getTotalMemorySize();
      if (physical > 0) {
        budget = Math.min(budget, physical);
      }
    }
    return budget;
  }

  /**
   * One tensor as the header describes it: its name, dtype, shape (without any batch dim) and the
   * bytes its data takes.
   */
  public record TensorInfo(String name, DType dtype, int[] shape, long bytes) {
    public TensorInfo {
      shape = shape.clone();
    }

    @Override
    public int[] shape() {
      return shape.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof TensorInfo t
          && name.equals(t.name)
          && dtype == t.dtype
          && Arrays.equals(shape, t.shape)
          && bytes == t.bytes;
    }

    @Override
    public int hashCode() {
      return Objects.hash(name, dtype, Arrays.hashCode(shape), bytes);
    }

    @Override
    public String toString() {
      return name + ": " + dtype.safetensorsName() + " " + Shape.toString(shape);
    }
  }

  private static List<TensorInfo> infos(Header header) {
    List<TensorInfo> out = new ArrayList<>(header.entries().size());
    for (Entry e : header.entries()) {
      out.add(new TensorInfo(e.name(), e.dtype(), e.shape(), e.end() - e.begin()));
    }
    return List.copyOf(out);
  }

  private static String source(byte[] bytes) {
    return "byte array of " + bytes.length + " bytes";
  }

  private static ByteBuffer prefix(byte[] bytes) {
    ByteBuffer prefix = ByteBuffer.allocate(PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    prefix.put(bytes, 0, Math.min(bytes.length, PREFIX_BYTES));
    return prefix;
  }

  private static Header parseHeader(String source, byte[] bytes) throws SafetensorsFormatException {
    long n = headerLength(source, bytes.length, prefix(bytes));
    return parseHeader(
        source, ByteBuffer.wrap(bytes, PREFIX_BYTES, (int) n), bytes.length - PREFIX_BYTES - n);
  }

  /** Reads and validates the header of an open file; {@code dataStart[0]} gets its data offset. */
  private static Header readHeader(FileChannel ch, String source, long[] dataStart)
      throws IOException {
    checkLittleEndianHost();
    long size = ch.size();
    ByteBuffer prefix = ByteBuffer.allocate(PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    if (size >= PREFIX_BYTES) {
      readFully(ch, source, null, prefix, 0);
    }
    long n = headerLength(source, size, prefix);
    ByteBuffer headerBytes = ByteBuffer.allocate((int) n);
    readFully(ch, source, null, headerBytes, PREFIX_BYTES);
    headerBytes.flip();
    dataStart[0] = PREFIX_BYTES + n;
    return parseHeader(source, headerBytes, size - PREFIX_BYTES - n);
  }

  /** The header length from the 8-byte prefix, checked against the limit and the source size. */
  private static long headerLength(String source, long size, ByteBuffer prefix)
      throws SafetensorsFormatException {
    if (size < PREFIX_BYTES) {
      throw new SafetensorsFormatException(
          source,
          null,
          "is " + size + " bytes long, shorter than the 8-byte header length that starts the file");
    }
    long n = prefix.getLong(0);
    // n is a u64: negative here means >= 2^63.
    if (n < 0 || n > MAX_HEADER_BYTES) {
      throw new SafetensorsFormatException(
          source,
          null,
          "declares a header of "
              + Long.toUnsignedString(n)
              + " bytes, over the "
              + MAX_HEADER_BYTES
              + "-byte limit (is this a safetensors file?)");
    }
    if (n > size - PREFIX_BYTES) {
      throw new SafetensorsFormatException(
          source,
          null,
          "declares a header of "
              + n
              + " bytes, which runs past the end of the file ("
              + size
              + " bytes in all)");
    }
    return n;
  }

  /** Copies tensor bytes from the source at {@code position} to host {@code address}. */
  @FunctionalInterface
  private interface DataReader<E extends Exception> {
    void read(String tensor, long position, long address, long length) throws E;
  }

  /**
   * Allocates the header's arrays and fills them; closes them all on failure. The total is checked
   * against {@code maxBytes} first: the tiling check ties the sizes to the source's length, but a
   * sparse file is long without taking space, so only a budget keeps it from exhausting memory.
   */
  private static <E extends Exception> SafetensorsFile load(
      String source, Header header, long maxBytes, long dataStart, DataReader<E> reader) throws E {
    long total = 0;
    Entry largest = null;
    for (Entry e : header.entries()) {
      total += e.end() - e.begin(); // cannot overflow: the ranges tile a file
      if (largest == null || e.end() - e.begin() > largest.end() - largest.begin()) {
        largest = e;
      }
    }
    if (total > 0 && total > maxBytes) {
      throw new SafetensorsTooLargeException(
          source,
          largest.name(),
          total,
          maxBytes,
          "raise the budget (-Demberdl.cpu.maxBytes, or the caller's limit) if the file is trusted");
    }
    Map<String, NDArray> arrays = new LinkedHashMap<>();
    try {
      for (Entry e : header.entries()) {
        NDArray a = NDArray.empty(e.dtype(), e.shape());
        arrays.put(e.name(), a);
        long length = e.end() - e.begin();
        if (length > 0) {
          reader.read(e.name(), dataStart + e.begin(), a.storage().address(), length);
        }
      }
    } catch (Throwable t) {
      closeAll(arrays.values(), t);
      throw t;
    }
    return new SafetensorsFile(arrays, header.metadata());
  }

  private static void readFully(
      FileChannel ch, String source, String tensor, ByteBuffer buffer, long position)
      throws IOException {
    long start = position - buffer.position();
    while (buffer.hasRemaining()) {
      if (ch.read(buffer, start + buffer.position()) < 0) {
        // Sizes were checked against the file's size, so the file shrank while being read.
        throw new SafetensorsFormatException(
            source,
            tensor,
            "cannot be read: the file ended at byte "
                + (start + buffer.position())
                + " (was it changed while being read?)");
      }
    }
  }

  private static void readFully(
      FileChannel ch, String source, String tensor, long position, long address, long length)
      throws IOException {
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(CHUNK_BYTES, length - done);
      readFully(ch, source, tensor, MemoryUtil.directBuffer(address + done, n), position + done);
      done += n;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Header parsing and validation

  /** One tensor's header entry; offsets are relative to the data section. */
  private record Entry(String name, DType dtype, int[] shape, long begin, long end) {}

  /** The validated header: entries in header order, metadata in header order. */
  private record Header(List<Entry> entries, Map<String, String> metadata) {}

  private static Header parseHeader(String source, ByteBuffer bytes, long dataSize)
      throws SafetensorsFormatException {
    String text = decodeUtf8(source, bytes);
    Map<String, Entry> entries = new LinkedHashMap<>();
    Map<String, String> metadata = null;
    try (JsonParser p = JSON.createParser(text)) {
      JsonToken token = p.nextToken();
      if (token != JsonToken.START_OBJECT) {
        throw new SafetensorsFormatException(
            source,
            null,
            "has a header that is not a JSON object: it "
                + (token == null ? "is empty" : "starts with " + describe(token)));
      }
      // Streamed rather than read as a tree so that a name given twice is an error, not
      // silently the last value.
      while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if (name.equals(METADATA_KEY)) {
          if (metadata != null) {
            throw new SafetensorsFormatException(
                source, null, "has '" + METADATA_KEY + "' twice in its header");
          }
          metadata = parseMetadata(source, p, value);
        } else {
          if (entries.containsKey(name)) {
            throw new SafetensorsFormatException(
                source, name, "appears twice in the header (duplicate name)");
          }
          entries.put(name, parseEntry(source, name, p, value, dataSize));
        }
      }
      // Jackson accepts several root values in a row; the format allows only one.
      token = p.nextToken();
      if (token != null) {
        throw new SafetensorsFormatException(
            source,
            null,
            "has a header that is not valid JSON: "
                + describe(token)
                + " follows the object at "
                + location(p.currentLocation()));
      }
    } catch (SafetensorsFormatException e) {
      throw e;
    } catch (IOException e) {
      // JsonProcessingException for syntax errors; nothing else fails when parsing a String.
      String what =
          e instanceof JsonProcessingException j
              ? j.getOriginalMessage() + " at " + location(j.getLocation())
              : e.toString();
      throw new SafetensorsFormatException(
          source, null, "has a header that is not valid JSON: " + what);
    }
    checkTiling(source, entries.values(), dataSize);
    return new Header(
        List.copyOf(entries.values()),
        metadata == null ? Map.of() : Collections.unmodifiableMap(metadata));
  }

  private static String decodeUtf8(String source, ByteBuffer bytes)
      throws SafetensorsFormatException {
    int start = bytes.position();
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    // One char per byte at most: UTF-8 needs 4 bytes for the code points that take 2 chars.
    CharBuffer chars = CharBuffer.allocate(bytes.remaining());
    CoderResult result = decoder.decode(bytes, chars, true);
    if (!result.isError()) {
      result = decoder.flush(chars);
    }
    if (result.isError()) {
      throw new SafetensorsFormatException(
          source,
          null,
          "has a header that is not valid UTF-8: bad byte at header offset "
              + (bytes.position() - start));
    }
    return chars.flip().toString();
  }

  private static Map<String, String> parseMetadata(String source, JsonParser p, JsonToken value)
      throws IOException {
    Map<String, String> metadata = new LinkedHashMap<>();
    if (value == JsonToken.VALUE_NULL) {
      return metadata; // the Rust reader takes null as "no metadata"
    }
    if (value != JsonToken.START_OBJECT) {
      throw new SafetensorsFormatException(
          source,
          null,
          "has '" + METADATA_KEY + "' as " + describe(value) + ", not an object of strings");
    }
    for (Map.Entry<String, JsonNode> e : readFields(source, METADATA_KEY, p).entrySet()) {
      if (!e.getValue().isTextual()) {
        throw new SafetensorsFormatException(
            source,
            null,
            "has '"
                + METADATA_KEY
                + "' value "
                + abbreviate(e.getValue())
                + " for key '"
                + e.getKey()
                + "': metadata values must be strings");
      }
      metadata.put(e.getKey(), e.getValue().textValue());
    }
    return metadata;
  }

  /** The fields of the object whose START_OBJECT is current, rejecting repeated keys. */
  private static Map<String, JsonNode> readFields(String source, String owner, JsonParser p)
      throws IOException {
    Map<String, JsonNode> fields = new LinkedHashMap<>();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String key = p.currentName();
      p.nextToken();
      JsonNode value = p.readValueAsTree();
      if (fields.put(key, value) != null) {
        if (owner.equals(METADATA_KEY)) {
          throw new SafetensorsFormatException(
              source, null, "has the key '" + key + "' twice in '" + METADATA_KEY + "'");
        }
        throw new SafetensorsFormatException(source, owner, "has the key '" + key + "' twice");
      }
    }
    return fields;
  }

  private static Entry parseEntry(
      String source, String name, JsonParser p, JsonToken value, long dataSize) throws IOException {
    if (value != JsonToken.START_OBJECT) {
      throw new SafetensorsFormatException(
          source,
          name,
          "is "
              + describe(value)
              + " in the header, not an object with dtype, shape and data_offsets");
    }
    Map<String, JsonNode> fields = readFields(source, name, p);
    // Other keys are ignored, as the Rust reader ignores them.
    DType dtype = parseDtype(source, name, field(source, name, fields, "dtype"));
    int[] shape = parseShape(source, name, field(source, name, fields, "shape"));
    JsonNode offsets = field(source, name, fields, "data_offsets");
    if (!offsets.isArray() || offsets.size() != 2) {
      throw new SafetensorsFormatException(
          source,
          name,
          "has data_offsets "
              + abbreviate(offsets)
              + ", not an array of two integers [begin, end]");
    }
    long begin = offset(source, name, offsets.get(0), dataSize);
    long end = offset(source, name, offsets.get(1), dataSize);
    String span = "data_offsets [" + begin + ", " + end + "]";
    if (begin > end) {
      throw new SafetensorsFormatException(source, name, "has " + span + " with begin > end");
    }
    long bytes;
    try {
      long numel = 1;
      for (int size : shape) {
        numel = Math.multiplyExact(numel, size);
      }
      bytes = Math.multiplyExact(numel, dtype.byteSize());
    } catch (ArithmeticException e) {
      throw new SafetensorsFormatException(
          source,
          name,
          "has shape " + Shape.toString(shape) + " whose byte size overflows a 64-bit integer");
    }
    if (bytes != end - begin) {
      throw new SafetensorsFormatException(
          source,
          name,
          "has shape "
              + Shape.toString(shape)
              + " of "
              + dtype.safetensorsName()
              + ", which needs "
              + bytes
              + " bytes, but its "
              + span
              + " span "
              + (end - begin)
              + " bytes");
    }
    return new Entry(name, dtype, shape, begin, end);
  }

  private static JsonNode field(
      String source, String name, Map<String, JsonNode> fields, String key)
      throws SafetensorsFormatException {
    JsonNode node = fields.get(key);
    if (node == null) {
      throw new SafetensorsFormatException(source, name, "has no '" + key + "' in its entry");
    }
    return node;
  }

  private static DType parseDtype(String source, String name, JsonNode node)
      throws SafetensorsFormatException {
    if (!node.isTextual()) {
      throw new SafetensorsFormatException(
          source, name, "has dtype " + abbreviate(node) + ", not a string such as \"F32\"");
    }
    String dtype = node.textValue();
    for (DType d : DType.values()) {
      if (d.safetensorsName().equals(dtype)) {
        return d;
      }
    }
    if (FOREIGN_DTYPES.contains(dtype)) {
      throw new SafetensorsFormatException(
          source,
          name,
          "has dtype "
              + dtype
              + ", a valid safetensors dtype that Ember cannot hold (it has BOOL, I32, I64, F32,"
              + " F64); convert it before saving, e.g. with tensor.float() in PyTorch");
    }
    throw new SafetensorsFormatException(
        source, name, "has unknown dtype '" + abbreviate(dtype) + "'");
  }

  private static int[] parseShape(String source, String name, JsonNode node)
      throws SafetensorsFormatException {
    if (!node.isArray()) {
      throw new SafetensorsFormatException(
          source, name, "has shape " + abbreviate(node) + ", not an array of sizes");
    }
    int[] shape = new int[node.size()];
    for (int i = 0; i < shape.length; i++) {
      JsonNode dim = node.get(i);
      if (!dim.isIntegralNumber()) {
        throw new SafetensorsFormatException(
            source,
            name,
            "has shape " + abbreviate(node) + " whose size " + i + " is not an integer");
      }
      BigInteger size = dim.bigIntegerValue();
      if (size.signum() < 0) {
        throw new SafetensorsFormatException(
            source, name, "has a negative size in shape " + abbreviate(node));
      }
      if (size.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) > 0) {
        throw new SafetensorsFormatException(
            source,
            name,
            "has size "
                + size
                + " in shape "
                + abbreviate(node)
                + ", larger than Ember's largest dim "
                + Integer.MAX_VALUE);
      }
      shape[i] = size.intValue();
    }
    return shape;
  }

  private static long offset(String source, String name, JsonNode node, long dataSize)
      throws SafetensorsFormatException {
    if (!node.isIntegralNumber()) {
      throw new SafetensorsFormatException(
          source, name, "has data offset " + abbreviate(node) + ", not an integer");
    }
    BigInteger value = node.bigIntegerValue();
    if (value.signum() < 0) {
      throw new SafetensorsFormatException(source, name, "has a negative data offset " + value);
    }
    if (value.compareTo(BigInteger.valueOf(dataSize)) > 0) {
      throw new SafetensorsFormatException(
          source,
          name,
          "has data offset "
              + value
              + ", past the end of the data section ("
              + dataSize
              + " bytes after the header)");
    }
    return value.longValue();
  }

  /** The tensors' byte ranges must cover the data section exactly: no gaps, no overlaps. */
  private static void checkTiling(String source, Collection<Entry> entries, long dataSize)
      throws SafetensorsFormatException {
    List<Entry> byOffset = new ArrayList<>(entries);
    byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    long covered = 0;
    Entry previous = null;
    for (Entry e : byOffset) {
      if (e.begin() < covered) {
        throw new SafetensorsFormatException(
            source,
            e.name(),
            "has data_offsets ["
                + e.begin()
                + ", "
                + e.end()
                + "] that overlap tensor '"
                + previous.name()
                + "' at ["
                + previous.begin()
                + ", "
                + previous.end()
                + "]");
      }
      if (e.begin() > covered) {
        throw new SafetensorsFormatException(
            source,
            e.name(),
            "has data_offsets ["
                + e.begin()
                + ", "
                + e.end()
                + "] that leave a hole: bytes ["
                + covered
                + ", "
                + e.begin()
                + ") of the data section belong to no tensor");
      }
      covered = e.end();
      previous = e;
    }
    if (covered != dataSize) {
      throw new SafetensorsFormatException(
          source,
          null,
          "has a data section of "
              + dataSize
              + " bytes but its tensors cover only the first "
              + covered
              + "; the rest belongs to no tensor");
    }
  }

  private static String describe(JsonToken token) {
    if (token == null) {
      return "nothing (the header ends)";
    }
    return switch (token) {
      case START_OBJECT -> "an object";
      case START_ARRAY -> "an array";
      case VALUE_STRING -> "a string";
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
      case VALUE_TRUE, VALUE_FALSE -> "a boolean";
      case VALUE_NULL -> "null";
      default -> token.toString();
    };
  }

  private static String location(JsonLocation at) {
    if (at == null) {
      return "an unknown position";
    }
    return "line " + at.getLineNr() + ", column " + at.getColumnNr();
  }

  /** JSON for a message, cut short: the value comes from an untrusted file. */
  private static String abbreviate(JsonNode node) {
    return abbreviate(node.toString());
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }

  private static void checkLittleEndianHost() {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException(
          "safetensors data is little-endian and is copied without byte swapping; this host is"
              + " big-endian");
    }
  }

  /** Closes every array; the first failure is thrown, or added to {@code primary} when given. */
  private static void closeAll(Collection<NDArray> arrays, Throwable primary) {
    RuntimeException first = null;
    for (NDArray a : arrays) {
      try {
        a.close();
      } catch (RuntimeException e) {
        if (primary != null) {
          primary.addSuppressed(e);
        } else if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * What {@link #read} returns: the tensors, in header order, and the metadata. Closing it closes
   * every array it still holds; {@link #take} hands one over to the caller instead.
   *
   * <pre>{@code
   * try (Safetensors.SafetensorsFile f = Safetensors.read(path)) {
   *   NDArray weight = f.take("fc.weight");   // the caller closes this one
   *   ...                                     // the rest are closed here
   * }
   * }</pre>
   */
  public static final class SafetensorsFile implements AutoCloseable {
    private final Map<String, NDArray> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Map<String, NDArray> tensors, Map<String, String> metadata) {
      this.tensors = tensors;
      this.metadata = metadata;
    }

    /**
     * The tensors still held, by name, in header order (unmodifiable; it shrinks with {@link
     * #take}). The arrays are closed with this object.
     */
    public Map<String, NDArray> tensors() {
      return Collections.unmodifiableMap(tensors);
    }

    /** The {@code __metadata__} pairs in header order; empty when the file has none. */
    public Map<String, String> metadata() {
      return metadata;
    }

    /**
     * Removes the tensor {@code name} and hands it to the caller, who must close it; closing this
     * object no longer touches it.
     *
     * @throws NoSuchElementException when no tensor of that name is held
     */
    public NDArray take(String name) {
      NDArray a = tensors.remove(name);
      if (a == null) {
        throw new NoSuchElementException(
            "no tensor '" + name + "' here; the names are " + tensors.keySet());
      }
      return a;
    }

    /** Closes every array still held; idempotent. */
    @Override
    public void close() {
      try {
        closeAll(tensors.values(), null);
      } finally {
        tensors.clear();
      }
    }
  }
}
