package org.emberdl.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Shape;
import org.emberdl.tensor.memory.HostMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads IDX files, the format MNIST and Fashion-MNIST ship in: a big-endian magic number {@code 00
 * 00 <type> <ndims>}, {@code ndims} big-endian int32 sizes, then the elements in row-major order
 * (see {@link IdxType} for the type codes). Files may be plain or gzip-compressed; gzip is detected
 * by its {@code 1f 8b} signature, never by the file name.
 *
 * <p>Reading is strict: a bad magic number, an unknown type code, 0 or more than {@value #MAX_DIMS}
 * dimensions, negative or overflowing sizes, fewer data bytes than the header promises, bytes after
 * the data, NaN in float data, and (when asked for) class labels out of range all throw an {@link
 * IdxFormatException} naming the file and the problem. A plain file's length is checked against its
 * header before any array memory is allocated.
 *
 * <p>The data streams through one reused chunk buffer and is converted chunk by chunk straight into
 * the result's off-heap memory, so reading allocates no per-element objects and never holds the
 * whole file on the Java heap.
 *
 * <p>The returned arrays belong to the caller (or to the current {@link
 * org.emberdl.tensor.MemoryScope}).
 */
public final class IdxReader {
  private static final Logger LOG = LoggerFactory.getLogger(IdxReader.class);

  /** The most dimensions accepted (the format's single byte allows 255; no real file has > 4). */
  public static final int MAX_DIMS = 8;

  /** Bytes decoded per chunk: large enough to amortize the copy, small enough for the L2 cache. */
  private static final int CHUNK_BYTES = 1 << 16;

  /** Buffer of the file and gzip streams. */
  private static final int STREAM_BUFFER = 1 << 16;

  /**
   * Deflate cannot expand data by more than 1032:1; a gzip file whose header promises more than
   * this many bytes per compressed byte is truncated, and saying so early avoids allocating memory
   * for a size the file cannot hold.
   */
  private static final long MAX_GZIP_RATIO = 1100;

  /** {@code i / 255f} for each byte value: exactly the float division, without dividing. */
  private static final float[] UNIT_SCALE = new float[256];

  static {
    for (int i = 0; i < 256; i++) {
      UNIT_SCALE[i] = i / 255f;
    }
  }

  /** What the elements become. */
  private enum Target {
    /** The type's natural dtype ({@link IdxType#dtype()}). */
    NATURAL,
    /** Unsigned bytes as float32 in [0, 1]. */
    UNIT_FLOAT,
    /** Integers as int64. */
    LABELS
  }

  private IdxReader() {}

  /**
   * Reads only the header of {@code file}.
   *
   * @throws IdxFormatException when the header breaks the format
   * @throws IOException when the file cannot be read
   */
  public static IdxHeader readHeader(Path file) throws IOException {
    try (Source src = Source.open(file)) {
      return src.header();
    }
  }

  /**
   * Reads {@code file} as an array of its own shape in the natural dtype of its element type: int32
   * for the integer types (Ember has no 8- or 16-bit integers, so bytes and shorts widen), float32
   * for floats, float64 for doubles.
   *
   * @throws IdxFormatException when the file breaks the format or holds NaN
   * @throws IOException when the file cannot be read
   */
  public static NDArray read(Path file) throws IOException {
    return read(file, Target.NATURAL, 0);
  }

  /**
   * Reads an image file, {@code (N, rows, cols)} unsigned bytes, as float32 pixels scaled to [0, 1]
   * by dividing by 255 (what torchvision's {@code ToTensor} does).
   *
   * @throws IdxFormatException when the file breaks the format, is not of unsigned bytes or does
   *     not have 3 dimensions
   * @throws IOException when the file cannot be read
   */
  public static NDArray readImages(Path file) throws IOException {
    return read(file, Target.UNIT_FLOAT, 0);
  }

  /**
   * Reads a label file, {@code (N)} integers of any IDX integer type, as int64 (the index dtype
   * losses and {@code oneHot} take), without checking their range.
   *
   * @throws IdxFormatException when the file breaks the format, is not of integers or does not have
   *     1 dimension
   * @throws IOException when the file cannot be read
   */
  public static NDArray readLabels(Path file) throws IOException {
    return read(file, Target.LABELS, 0);
  }

  /**
   * Reads class labels like {@link #readLabels(Path)} and checks that each is in {@code 0 ..
   * numClasses - 1}.
   *
   * @throws IllegalArgumentException when {@code numClasses < 1}
   * @throws IdxFormatException as {@link #readLabels(Path)}, and for a label out of range (naming
   *     its index and value)
   * @throws IOException when the file cannot be read
   */
  public static NDArray readLabels(Path file, int numClasses) throws IOException {
    if (numClasses < 1) {
      throw new IllegalArgumentException("numClasses must be >= 1, got " + numClasses);
    }
    return read(file, Target.LABELS, numClasses);
  }

  private static NDArray read(Path file, Target target, int numClasses) throws IOException {
    long start = System.nanoTime();
    try (Source src = Source.open(file)) {
      IdxHeader h = src.header();
      checkTarget(src, h, target);
      src.checkLength(h);
      DType dtype =
          switch (target) {
            case NATURAL -> h.type().dtype();
            case UNIT_FLOAT -> DType.FLOAT32;
            case LABELS -> DType.INT64;
          };
      NDArray out = NDArray.empty(dtype, h.dims());
      try {
        readData(src, h, target, numClasses, out);
        src.expectEnd(h);
      } catch (IOException | RuntimeException | Error e) {
        out.close();
        throw e;
      }
      if (LOG.isDebugEnabled()) {
        LOG.debug(
            "read {} ({} {}) as {} in {} ms",
            file,
            h.type(),
            Arrays.toString(h.dims()),
            dtype,
            (System.nanoTime() - start) / 1_000_000);
      }
      return out;
    }
  }

  private static void checkTarget(Source src, IdxHeader h, Target target) throws IOException {
    switch (target) {
      case NATURAL -> {}
      case UNIT_FLOAT -> {
        if (h.type() != IdxType.UBYTE) {
          throw src.error("images must be unsigned bytes (type 0x08), the file holds " + h.type());
        }
        if (h.ndim() != 3) {
          throw src.error(
              "images must have 3 dimensions (N, rows, cols), the file has sizes "
                  + Arrays.toString(h.dims()));
        }
      }
      case LABELS -> {
        if (!h.type().isInteger()) {
          throw src.error("labels must be integers, the file holds " + h.type());
        }
        if (h.ndim() != 1) {
          throw src.error(
              "labels must have 1 dimension (N), the file has sizes " + Arrays.toString(h.dims()));
        }
      }
    }
  }

  /** Streams the data into {@code out} (fresh, contiguous) one chunk at a time. */
  private static void readData(Source src, IdxHeader h, Target target, int numClasses, NDArray out)
      throws IOException {
    IdxType type = h.type();
    int inSize = type.byteSize();
    int perChunk = CHUNK_BYTES / inSize;
    byte[] bytes = new byte[perChunk * inSize];
    // One big-endian view of the chunk, reused: the bulk gets below read from index 0 each time.
    ByteBuffer be = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
    int[] ints = type.isInteger() && target != Target.UNIT_FLOAT ? new int[perChunk] : null;
    Object staging =
        switch (out.dtype()) {
          case FLOAT32 -> new float[perChunk];
          case FLOAT64 -> new double[perChunk];
          case INT32 -> ints;
          case INT64 -> new long[perChunk];
          case BOOL -> throw new AssertionError("no IDX type reads as bool");
        };
    long address = out.storage().address();
    int outSize = out.dtype().byteSize();
    long total = h.numel();
    long done = 0;
    while (done < total) {
      int n = (int) Math.min(perChunk, total - done);
      src.readFully(bytes, n * inSize, h, done * inSize);
      if (target == Target.UNIT_FLOAT) {
        float[] f = (float[]) staging;
        for (int i = 0; i < n; i++) {
          f[i] = UNIT_SCALE[bytes[i] & 0xFF];
        }
      } else if (type == IdxType.FLOAT) {
        float[] f = (float[]) staging;
        be.asFloatBuffer().get(f, 0, n);
        for (int i = 0; i < n; i++) {
          if (Float.isNaN(f[i])) {
            throw src.error("NaN at element " + (done + i) + " " + index(h, done + i));
          }
        }
      } else if (type == IdxType.DOUBLE) {
        double[] d = (double[]) staging;
        be.asDoubleBuffer().get(d, 0, n);
        for (int i = 0; i < n; i++) {
          if (Double.isNaN(d[i])) {
            throw src.error("NaN at element " + (done + i) + " " + index(h, done + i));
          }
        }
      } else {
        decodeInts(type, bytes, be, ints, n);
        if (target == Target.LABELS) {
          long[] l = (long[]) staging;
          for (int i = 0; i < n; i++) {
            int v = ints[i];
            if (numClasses > 0 && (v < 0 || v >= numClasses)) {
              throw src.error(
                  "label "
                      + v
                      + " at index "
                      + (done + i)
                      + " is outside the classes 0.."
                      + (numClasses - 1));
            }
            l[i] = v;
          }
        }
      }
      HostMemory.copyIn(staging, 0, address + done * outSize, n);
      done += n;
    }
  }

  private static void decodeInts(IdxType type, byte[] bytes, ByteBuffer be, int[] ints, int n) {
    switch (type) {
      case UBYTE -> {
        for (int i = 0; i < n; i++) {
          ints[i] = bytes[i] & 0xFF;
        }
      }
      case BYTE -> {
        for (int i = 0; i < n; i++) {
          ints[i] = bytes[i];
        }
      }
      case SHORT -> {
        for (int i = 0; i < n; i++) {
          ints[i] = (short) ((bytes[2 * i] << 8) | (bytes[2 * i + 1] & 0xFF));
        }
      }
      case INT -> be.asIntBuffer().get(ints, 0, n);
      default -> throw new AssertionError(type + " is not an integer type");
    }
  }

  /** The multi-index of flat element {@code flat}, for messages. */
  private static String index(IdxHeader h, long flat) {
    int[] dims = h.dims();
    long[] idx = new long[dims.length];
    for (int d = dims.length - 1; d >= 0; d--) {
      idx[d] = flat % dims[d];
      flat /= dims[d];
    }
    return "(index " + Arrays.toString(idx) + ")";
  }

  /** An open IDX file: the (possibly decompressing) stream and what is known of its length. */
  private static final class Source implements AutoCloseable {
    final String name;
    final InputStream in;
    final boolean gzip;
    final long fileBytes;

    private Source(Path file, InputStream in, boolean gzip, long fileBytes) {
      this.name = file.toString();
      this.in = in;
      this.gzip = gzip;
      this.fileBytes = fileBytes;
    }

    static Source open(Path file) throws IOException {
      long size = Files.size(file);
      BufferedInputStream buffered =
          new BufferedInputStream(Files.newInputStream(file), STREAM_BUFFER);
      try {
        buffered.mark(2);
        int b0 = buffered.read();
        int b1 = buffered.read();
        buffered.reset();
        // The IDX magic starts with 00 00, so the gzip signature 1f 8b cannot be an IDX file.
        if (b0 == 0x1f && b1 == 0x8b) {
          InputStream gz;
          try {
            gz = new GZIPInputStream(buffered, STREAM_BUFFER);
          } catch (ZipException | EOFException e) {
            throw new IdxFormatException(
                file.toString(), "corrupt gzip header: " + e.getMessage(), e);
          }
          return new Source(file, gz, true, size);
        }
        return new Source(file, buffered, false, size);
      } catch (IOException | RuntimeException | Error e) {
        buffered.close();
        throw e;
      }
    }

    IdxFormatException error(String problem) {
      return new IdxFormatException(name, problem);
    }

    IdxHeader header() throws IOException {
      byte[] magic = readHeaderBytes(4, 0);
      if (magic[0] != 0 || magic[1] != 0) {
        throw error(
            String.format(
                "bad magic number %02x %02x %02x %02x: an IDX file starts with two zero bytes",
                magic[0], magic[1], magic[2], magic[3]));
      }
      int code = magic[2] & 0xFF;
      IdxType type = IdxType.fromCode(code);
      if (type == null) {
        throw error(
            String.format(
                "unknown type code 0x%02x in the magic number (IDX defines 0x08 ubyte, 0x09 byte,"
                    + " 0x0b short, 0x0c int, 0x0d float, 0x0e double)",
                code));
      }
      int ndims = magic[3] & 0xFF;
      if (ndims < 1 || ndims > MAX_DIMS) {
        throw error("the magic number gives " + ndims + " dimensions; expected 1 to " + MAX_DIMS);
      }
      byte[] sizes = readHeaderBytes(4 * ndims, 4);
      ByteBuffer be = ByteBuffer.wrap(sizes).order(ByteOrder.BIG_ENDIAN);
      int[] dims = new int[ndims];
      long numel = 1;
      for (int d = 0; d < ndims; d++) {
        dims[d] = be.getInt();
        if (dims[d] < 0) {
          throw error(
              "dimension "
                  + d
                  + " has a negative size "
                  + dims[d]
                  + " (as unsigned: "
                  + Integer.toUnsignedLong(dims[d])
                  + ")");
        }
        numel = Math.multiplyHigh(numel, dims[d]) != 0 ? Long.MAX_VALUE : numel * dims[d];
        if (numel > Shape.MAX_ELEMENTS) {
          throw error(
              "the sizes "
                  + Arrays.toString(Arrays.copyOf(dims, d + 1))
                  + (d + 1 < ndims ? "..." : "")
                  + " overflow: more than 2^56 elements");
        }
      }
      return new IdxHeader(type, dims);
    }

    /** Reads {@code n} header bytes found at file offset {@code at}. */
    private byte[] readHeaderBytes(int n, long at) throws IOException {
      byte[] b = new byte[n];
      int got = readWrapped(b, n);
      if (got < n) {
        throw error(
            "truncated header: it ends after "
                + (at + got)
                + " bytes, but needs "
                + (at + n)
                + (at == 0 ? "" : " for its dimension sizes"));
      }
      return b;
    }

    /**
     * Checks the length a header implies against the file before anything is allocated: exactly for
     * a plain file, as an upper bound for a gzip file.
     */
    void checkLength(IdxHeader h) throws IOException {
      long need = h.headerBytes() + h.dataBytes();
      if (!gzip && fileBytes < need) {
        throw error(truncated(h, fileBytes - h.headerBytes()));
      }
      if (!gzip && fileBytes > need) {
        throw error(trailing(h, fileBytes - need));
      }
      if (gzip && h.dataBytes() / MAX_GZIP_RATIO > fileBytes) {
        throw error(
            "truncated: the header promises "
                + h.dataBytes()
                + " bytes of data, more than a gzip file of "
                + fileBytes
                + " bytes can hold");
      }
    }

    /** Fills {@code b[0, n)}, the data bytes starting at data offset {@code at}. */
    void readFully(byte[] b, int n, IdxHeader h, long at) throws IOException {
      int got = readWrapped(b, n);
      if (got < n) {
        throw error(truncated(h, at + got));
      }
    }

    /** Checks that the data is followed by nothing. */
    void expectEnd(IdxHeader h) throws IOException {
      if (readWrapped(new byte[1], 1) == 1) {
        long extra;
        try {
          extra = 1 + in.transferTo(OutputStream.nullOutputStream());
        } catch (ZipException | EOFException e) {
          throw new IdxFormatException(
              name, "trailing bytes after the data, then a corrupt gzip stream", e);
        }
        throw error(trailing(h, extra));
      }
    }

    private static String truncated(IdxHeader h, long dataBytesPresent) {
      return "truncated: the header "
          + h
          + " promises "
          + h.dataBytes()
          + " bytes of data, but the file holds only "
          + Math.max(0, dataBytesPresent);
    }

    private static String trailing(IdxHeader h, long extra) {
      return extra
          + " trailing bytes after the "
          + h.dataBytes()
          + " bytes of data the header "
          + h
          + " promises";
    }

    /** readNBytes, with a corrupt or cut gzip stream reported as a format error of this file. */
    private int readWrapped(byte[] b, int n) throws IOException {
      try {
        return in.readNBytes(b, 0, n);
      } catch (ZipException e) {
        throw new IdxFormatException(name, "corrupt gzip stream: " + e.getMessage(), e);
      } catch (EOFException e) {
        throw new IdxFormatException(name, "truncated gzip stream (" + e.getMessage() + ")", e);
      }
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
