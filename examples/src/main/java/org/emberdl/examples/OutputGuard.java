package org.emberdl.examples;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the command line from deleting what it did not write. Every output path is checked before
 * any work starts: it must not be, hold, or lie inside one of the command's inputs (or another of
 * its outputs); an existing non-empty path is refused unless {@code --overwrite} is given, and even
 * then only a path that Ember recognises as its own output of the same kind is replaced. Parquet
 * outputs are written beside the target and swapped in only once complete ({@link #replace}), so a
 * failed command leaves the previous output as it was.
 *
 * <p>Paths may be on any Hadoop file system; local paths are compared after resolving symbolic
 * links (of the part that exists), so a link to an input is the input.
 */
final class OutputGuard {
  private static final Logger LOG = LoggerFactory.getLogger(OutputGuard.class);

  /** The file Ember writes into each Parquet output it produces; Spark's readers skip it. */
  static final String MARKER = "_EMBER_OUTPUT";

  /**
   * Files Hadoop writes beside Ember's (checksums) and Ember's own half-written or set-aside
   * outputs (see {@link #replace}).
   */
  private static final String ALWAYS_ALLOWED =
      "|\\..*\\.crc|\\..*\\.ember-(writing|old)-[0-9a-f]{8}";

  /** What an output holds; an existing output is replaced only by one of the same kind. */
  enum Kind {
    MODEL(
        "an Ember model",
        "saved by train: metadata/ and data/weights.safetensors",
        "metadata|data"),
    PREDICTIONS(
        "Ember predictions",
        "written by predict: Parquet parts, _SUCCESS and " + MARKER,
        "part-.*|_SUCCESS|" + MARKER),
    PARQUET(
        "Ember's converted Parquet",
        "written by convert: Parquet parts, _SUCCESS and " + MARKER,
        "part-.*|_SUCCESS|" + MARKER),
    FASHION_MNIST(
        "Ember's converted Fashion-MNIST",
        "written by convert: train.parquet, test.parquet and " + MARKER,
        "train\\.parquet|test\\.parquet|" + MARKER),
    DEMO(
        "an Ember demo work directory",
        "written by demo: train.parquet, test.parquet, model, predictions.parquet and " + MARKER,
        "train\\.parquet|test\\.parquet|model|predictions\\.parquet|" + MARKER),
    CHECKPOINTS("Ember checkpoints", "epoch-NNNNNN directories", "(_tmp-)?epoch-\\d{6}"),
    ONNX("an ONNX model", "one file that parses as an ONNX model with a graph", "");

    /** What the output is, e.g. "Ember predictions". */
    final String description;

    /** What such an output holds, and nothing else. */
    final String holds;

    /** The names an output of this kind holds: anything else was put there by someone else. */
    final Pattern entries;

    Kind(String description, String holds, String entries) {
      this.description = description;
      this.holds = holds;
      this.entries = Pattern.compile(entries + ALWAYS_ALLOWED);
    }

    String markerText() {
      return "ember " + name().toLowerCase(Locale.ROOT) + "\n";
    }
  }

  /** An output the command refuses to write; nothing has been written or deleted. */
  static final class RefusedException extends Exception {
    private static final long serialVersionUID = 1L;

    RefusedException(String message) {
      super(message);
    }
  }

  /** A path as given, its file system, and its resolved form for comparisons. */
  private record Location(String option, String given, FileSystem fs, Path path, URI key) {}

  private final Configuration conf;
  private final List<Location> inputs = new ArrayList<>();
  private final List<Location> outputs = new ArrayList<>();

  OutputGuard(Configuration conf) {
    this.conf = conf;
  }

  /**
   * The Hadoop configuration the checks use before Spark starts: the defaults (core-site.xml) plus
   * the {@code spark.hadoop.*} properties spark-submit passes to the driver.
   */
  static Configuration hadoopConf() {
    Configuration conf = new Configuration();
    for (Map.Entry<Object, Object> e : System.getProperties().entrySet()) {
      String key = e.getKey().toString();
      if (key.startsWith("spark.hadoop.")) {
        conf.set(key.substring("spark.hadoop.".length()), e.getValue().toString());
      }
    }
    return conf;
  }

  /** Registers an input (a file or directory the command reads), named by its option. */
  OutputGuard input(String option, String path) throws IOException {
    if (path != null) {
      inputs.add(locate(option, path));
    }
    return this;
  }

  /**
   * Checks an output before anything runs: refuses it when it overlaps an input or an earlier
   * output, or when it exists, is not empty and {@code overwrite} is off, or (with {@code
   * overwrite}) when it is not Ember's output of {@code kind}.
   */
  void output(String option, String path, Kind kind, boolean overwrite)
      throws IOException, RefusedException {
    Location out = locate(option, path);
    refuseOverlap(out);
    outputs.add(out);
    if (isAbsentOrEmpty(out.fs(), out.path())) {
      return;
    }
    if (!overwrite) {
      throw new RefusedException(
          String.format(
              Locale.ROOT,
              "refusing to write %s %s: it exists and is not empty; pass --overwrite to replace it"
                  + " (allowed only for %s)",
              option,
              path,
              kind.description));
    }
    requireKind(out.fs(), out.path(), kind, option, path);
  }

  /**
   * Checks a checkpoint directory: no overlap with inputs or outputs, and when it exists it holds
   * only Ember checkpoints (a rerun resumes from them; nothing else in it is ever deleted).
   */
  void checkpoints(String option, String path) throws IOException, RefusedException {
    Location dir = locate(option, path);
    refuseOverlap(dir);
    outputs.add(dir);
    if (!isAbsentOrEmpty(dir.fs(), dir.path())) {
      requireKind(dir.fs(), dir.path(), Kind.CHECKPOINTS, option, path);
    }
  }

  private void refuseOverlap(Location out) throws RefusedException {
    for (Location other : inputs) {
      String relation = relation(out.key(), other.key());
      if (relation != null) {
        throw new RefusedException(
            String.format(
                Locale.ROOT,
                "refusing to write %s %s: it %s the input %s %s",
                out.option(),
                out.given(),
                relation,
                other.option(),
                other.given()));
      }
    }
    for (Location other : outputs) {
      String relation = relation(out.key(), other.key());
      if (relation != null) {
        throw new RefusedException(
            String.format(
                Locale.ROOT,
                "refusing to write %s %s: it %s the output %s %s",
                out.option(),
                out.given(),
                relation,
                other.option(),
                other.given()));
      }
    }
  }

  /** How {@code a} relates to {@code b}: "is", "holds", "is inside", or null when apart. */
  static String relation(URI a, URI b) {
    if (!sameFileSystem(a, b)) {
      return null;
    }
    String pa = withSlash(a.getPath());
    String pb = withSlash(b.getPath());
    if (pa.equals(pb)) {
      return "is";
    }
    if (pb.startsWith(pa)) {
      return "holds";
    }
    if (pa.startsWith(pb)) {
      return "is inside";
    }
    return null;
  }

  private static boolean sameFileSystem(URI a, URI b) {
    return String.valueOf(a.getScheme()).equalsIgnoreCase(String.valueOf(b.getScheme()))
        && String.valueOf(a.getAuthority()).equalsIgnoreCase(String.valueOf(b.getAuthority()));
  }

  private static String withSlash(String p) {
    return p.endsWith("/") ? p : p + "/";
  }

  private Location locate(String option, String given) throws IOException {
    Path p = new Path(given);
    FileSystem fs = p.getFileSystem(conf);
    Path qualified = fs.makeQualified(p);
    URI key = qualified.toUri();
    if ("file".equals(key.getScheme())) {
      key = realLocal(key);
    }
    return new Location(option, given, fs, qualified, key);
  }

  /**
   * The local path with its existing part resolved ({@code ..} and symbolic links), the rest
   * appended: a path that does not exist yet compares by where it will be created.
   */
  private static URI realLocal(URI uri) throws IOException {
    java.nio.file.Path p;
    try {
      p = java.nio.file.Path.of(uri).toAbsolutePath().normalize();
    } catch (IllegalArgumentException e) {
      return uri;
    }
    java.nio.file.Path existing = p;
    List<String> rest = new ArrayList<>();
    while (existing != null && !Files.exists(existing)) {
      rest.add(0, existing.getFileName().toString());
      existing = existing.getParent();
    }
    java.nio.file.Path real = existing == null ? p.getRoot() : existing.toRealPath();
    for (String name : rest) {
      real = real.resolve(name);
    }
    return real.toUri();
  }

  private static boolean isAbsentOrEmpty(FileSystem fs, Path p) throws IOException {
    if (!fs.exists(p)) {
      return true;
    }
    FileStatus st = fs.getFileStatus(p);
    return st.isDirectory() && fs.listStatus(p).length == 0;
  }

  private void requireKind(FileSystem fs, Path p, Kind kind, String option, String given)
      throws IOException, RefusedException {
    if (!isKind(fs, p, kind)) {
      throw new RefusedException(
          String.format(
              Locale.ROOT,
              "refusing to overwrite %s %s: it is not %s (%s, nothing else); delete it yourself"
                  + " or choose another path",
              option,
              given,
              kind.description,
              kind.holds));
    }
  }

  /**
   * True when {@code p} is a directory Ember wrote as {@code kind}, holding nothing else: replacing
   * it deletes only what Ember wrote.
   */
  static boolean isKind(FileSystem fs, Path p, Kind kind) throws IOException {
    if (kind == Kind.ONNX) {
      return isOnnxModel(fs, p);
    }
    if (!fs.getFileStatus(p).isDirectory()) {
      return false;
    }
    for (FileStatus f : fs.listStatus(p)) {
      if (!kind.entries.matcher(f.getPath().getName()).matches()) {
        return false;
      }
    }
    return switch (kind) {
      case MODEL -> isModel(fs, p);
      case CHECKPOINTS -> true; // the entries say it all
      default -> kind.markerText().equals(readSmall(fs, new Path(p, MARKER)));
    };
  }

  /**
   * A file (never a directory) that parses as an ONNX model with a graph of at least one node:
   * export replaces only what an ONNX exporter wrote. Files over protobuf's 2 GiB are not read.
   */
  private static boolean isOnnxModel(FileSystem fs, Path p) throws IOException {
    FileStatus st = fs.getFileStatus(p);
    if (!st.isFile() || st.getLen() == 0 || st.getLen() > Integer.MAX_VALUE - 8) {
      return false;
    }
    try (InputStream in = fs.open(p)) {
      org.emberdl.onnx.proto.ModelProto m =
          org.emberdl.onnx.proto.ModelProto.parseFrom(in.readNBytes((int) st.getLen()));
      return m.getIrVersion() > 0 && m.hasGraph() && m.getGraph().getNodeCount() > 0;
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      return false;
    }
  }

  private static boolean isModel(FileSystem fs, Path p) throws IOException {
    Path metadata = new Path(p, "metadata");
    Path weights = new Path(p, "data/weights.safetensors");
    if (!fs.isDirectory(metadata) || !fs.isFile(weights)) {
      return false;
    }
    // Spark's params metadata names the stage's class: one of Ember's models
    for (FileStatus f : fs.listStatus(metadata)) {
      if (f.isFile() && f.getPath().getName().startsWith("part-")) {
        String text = readSmall(fs, f.getPath());
        if (text != null && text.contains("\"class\":\"org.emberdl.spark.Ember")) {
          return true;
        }
      }
    }
    return false;
  }

  /** The first 64 KiB of a file as text, or null when it is not a readable file. */
  private static String readSmall(FileSystem fs, Path file) throws IOException {
    if (!fs.isFile(file)) {
      return null;
    }
    try (InputStream in = fs.open(file)) {
      return new String(in.readNBytes(1 << 16), StandardCharsets.UTF_8);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  /** Writes an output into the path it is given (a directory that does not exist yet). */
  @FunctionalInterface
  interface Writer {
    void write(String path) throws Exception;
  }

  /**
   * Writes {@code target} as {@code kind}: {@code writer} writes into a fresh hidden sibling,
   * Ember's marker is added, and only then does the sibling take the target's place (the previous
   * output, which {@link #output} checked is Ember's own, is removed last). If anything fails, the
   * sibling is deleted and the target is left as it was.
   */
  void replace(String target, Kind kind, Writer writer) throws Exception {
    Path t = new Path(target);
    FileSystem fs = t.getFileSystem(conf);
    t = fs.makeQualified(t);
    Path parent = t.getParent();
    String tag = UUID.randomUUID().toString().substring(0, 8);
    Path tmp = new Path(parent, "." + t.getName() + ".ember-writing-" + tag);
    Path old = new Path(parent, "." + t.getName() + ".ember-old-" + tag);
    // defence in depth: even a caller that skipped output() never replaces what Ember did not write
    if (!isAbsentOrEmpty(fs, t) && !isKind(fs, t, kind)) {
      throw new RefusedException(
          "refusing to overwrite "
              + target
              + ": it is not "
              + kind.description
              + " ("
              + kind.holds
              + ", nothing else)");
    }
    boolean done = false;
    try {
      writer.write(tmp.toString());
      try (FSDataOutputStream m = fs.create(new Path(tmp, MARKER), false)) {
        m.write(kind.markerText().getBytes(StandardCharsets.UTF_8));
      }
      boolean hadOld = fs.exists(t);
      if (hadOld && !fs.rename(t, old)) {
        throw new IOException("cannot move the previous " + target + " aside to " + old);
      }
      if (!fs.rename(tmp, t)) {
        if (hadOld) {
          fs.rename(old, t);
        }
        throw new IOException("cannot move the new output " + tmp + " to " + target);
      }
      done = true;
      if (hadOld && !fs.delete(old, true)) {
        LOG.warn("the previous output, moved to {}, could not be deleted", old);
      }
    } finally {
      if (!done && fs.exists(tmp)) {
        fs.delete(tmp, true); // ours: written by this call
      }
    }
  }

  /** Marks {@code dir} (which this command wrote) as Ember's output of {@code kind}. */
  void mark(String dir, Kind kind) throws IOException {
    Path d = new Path(dir);
    FileSystem fs = d.getFileSystem(conf);
    fs.mkdirs(d);
    try (FSDataOutputStream m = fs.create(new Path(d, MARKER), true)) {
      m.write(kind.markerText().getBytes(StandardCharsets.UTF_8));
    }
  }
}
