package org.emberdl.spark.internal.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.emberdl.federated.ServerOptimizer;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.internal.local.ModuleBuffers;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.train.ProgressJson;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Training checkpoints in a directory of any Hadoop file system. {@code epoch-NNNNNN/} holds:
 *
 * <ul>
 *   <li>{@code model.safetensors}: the model's state dict (weights and buffers);
 *   <li>{@code optimizer.safetensors}: the driver optimizer's state (step count, learning rate and
 *       hyper-parameters, moments);
 *   <li>{@code server.safetensors}: the federated server optimizer's state (FedAvgM momentum,
 *       FedAdam moments), for federated aggregations;
 *   <li>{@code best.safetensors}: the weights of the best validation epoch so far, when early
 *       stopping keeps them;
 *   <li>{@code progress.json}: epochs done, the metrics of each, early stopping's counters, the
 *       privacy ledger (every run of DP steps at its sampling rate and noise multiplier) and the
 *       training settings the checkpoint was written under.
 * </ul>
 *
 * <p>A checkpoint resumes only a fit with the same settings ({@link #restoreLatest}): anything else
 * would not continue the same fit, and a private fit resumed from a non-private checkpoint (or
 * under other noise) would report an epsilon that does not cover the checkpoint's epochs.
 *
 * <p>A checkpoint is written under a temporary name and renamed when complete (Hadoop file systems
 * rename a directory atomically), so a failure mid-write leaves the earlier checkpoints intact and
 * is never mistaken for a checkpoint. A checkpoint that cannot be read is an error naming the file;
 * nothing falls back silently to an older one.
 */
public final class Checkpoints {
  private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);
  private static final Pattern NAME = Pattern.compile("epoch-(\\d{6})");

  static final String MODEL = "model.safetensors";
  static final String OPTIMIZER = "optimizer.safetensors";
  static final String SERVER = "server.safetensors";
  static final String BEST = "best.safetensors";
  static final String PROGRESS = "progress.json";

  /** {@code steps} steps of the sampled Gaussian mechanism at one (q, sigma). */
  public record PrivacySteps(double samplingRate, double noiseMultiplier, long steps) {
    /** {@code ledger} with {@code steps} more steps at (q, sigma), merged into its last entry. */
    public static List<PrivacySteps> append(
        List<PrivacySteps> ledger, double samplingRate, double noiseMultiplier, long steps) {
      List<PrivacySteps> out = new ArrayList<>(ledger);
      PrivacySteps last = out.isEmpty() ? null : out.get(out.size() - 1);
      if (last != null
          && last.samplingRate == samplingRate
          && last.noiseMultiplier == noiseMultiplier) {
        out.set(
            out.size() - 1, new PrivacySteps(samplingRate, noiseMultiplier, last.steps + steps));
      } else {
        out.add(new PrivacySteps(samplingRate, noiseMultiplier, steps));
      }
      return out;
    }

    /** The accountant with every step of {@code ledger} composed in. */
    public static RdpAccountant accountant(List<PrivacySteps> ledger) {
      RdpAccountant a = new RdpAccountant();
      for (PrivacySteps s : ledger) {
        a = a.withSteps(s.samplingRate, s.noiseMultiplier, s.steps);
      }
      return a;
    }

    public static long totalSteps(List<PrivacySteps> ledger) {
      return ledger.stream().mapToLong(PrivacySteps::steps).sum();
    }
  }

  /**
   * What a checkpoint restores besides the tensors.
   *
   * @param settings the training settings the fit ran under (name -> value), which a resume must
   *     match
   * @param privacy the DP steps taken so far (empty for a fit without differential privacy)
   */
  public record Progress(
      int epochsDone,
      Map<String, String> settings,
      double bestValidationLoss,
      int bestEpoch,
      int epochsWithoutImprovement,
      List<EpochMetrics> history,
      List<PrivacySteps> privacy) {}

  /** The driver's training state a checkpoint holds; {@code server} is null when not federated. */
  public record State(Module model, Optimizer optimizer, ServerOptimizer server) {}

  /**
   * A restored checkpoint: its progress, the best weights it kept (null when none), its directory.
   */
  public record Restored(Progress progress, RoundWeights best, Path path) {}

  private final Path dir;
  private final FileSystem fs;

  public Checkpoints(String dir, Configuration hadoopConf) {
    this.dir = new Path(dir);
    try {
      this.fs = this.dir.getFileSystem(hadoopConf);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open checkpoint directory " + dir, e);
    }
  }

  /**
   * Writes the checkpoint after {@code progress.epochsDone()} epochs, with {@code best} (null for
   * none) as the best weights.
   *
   * @throws UncheckedIOException when it cannot be written; the earlier checkpoints are intact
   */
  public void write(State state, Progress progress, RoundWeights best) {
    String name = String.format("epoch-%06d", progress.epochsDone());
    Path tmp = new Path(dir, "_tmp-" + name);
    Path done = new Path(dir, name);
    boolean published = false;
    try {
      fs.mkdirs(dir);
      fs.delete(tmp, true);
      if (!fs.mkdirs(tmp)) {
        throw new IOException("cannot create " + tmp);
      }
      writeBytes(new Path(tmp, MODEL), StateDicts.toBytes(state.model().stateDict()));
      writeBytes(new Path(tmp, OPTIMIZER), StateDicts.toBytes(state.optimizer().stateDict()));
      if (state.server() != null) {
        writeBytes(new Path(tmp, SERVER), floatsToBytes(state.server().state()));
      }
      if (best != null) {
        Map<String, float[]> b = new LinkedHashMap<>();
        b.put("values", best.values());
        b.put("buffers", best.buffers());
        writeBytes(new Path(tmp, BEST), floatsToBytes(b));
      }
      // Last, so that a directory holding progress.json holds everything else too.
      writeBytes(new Path(tmp, PROGRESS), ProgressJson.toBytes(progress));
      publish(tmp, done);
      published = true;
      LOG.info("checkpoint written: {}", done);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot write checkpoint "
              + done
              + " (the earlier checkpoints in "
              + dir
              + " are intact): "
              + e.getMessage(),
          e);
    } finally {
      if (!published) {
        deleteQuietly(tmp);
      }
    }
  }

  /**
   * Renames the complete {@code tmp} to {@code done}; an existing {@code done} survives failure.
   */
  private void publish(Path tmp, Path done) throws IOException {
    Path old = null;
    if (fs.exists(done)) {
      old = new Path(dir, "_old-" + done.getName());
      fs.delete(old, true);
      if (!fs.rename(done, old)) {
        throw new IOException("rename " + done + " -> " + old + " failed");
      }
    }
    if (!fs.rename(tmp, done)) {
      if (old != null) {
        fs.rename(old, done);
      }
      throw new IOException("rename " + tmp + " -> " + done + " failed");
    }
    if (old != null) {
      fs.delete(old, true);
    }
  }

  private void deleteQuietly(Path path) {
    try {
      fs.delete(path, true);
    } catch (IOException | RuntimeException e) {
      LOG.warn("could not remove the incomplete checkpoint {}: {}", path, e.toString());
    }
  }

  /**
   * Restores the newest checkpoint into {@code state}, after checking that it was written under
   * {@code settings} and holds at most {@code maxEpochs} epochs.
   *
   * @return what it restored, or null when the directory holds no checkpoint
   * @throws IllegalStateException when the checkpoint was written under other settings (naming each
   *     difference), holds more than {@code maxEpochs} epochs, or a file of it is missing or
   *     corrupt (naming the file)
   */
  public Restored restoreLatest(State state, Map<String, String> settings, int maxEpochs) {
    Path latest = latest();
    if (latest == null) {
      return null;
    }
    Progress p = read(latest, PROGRESS, ProgressJson::fromBytes);
    refuseOtherSettings(latest, p, settings);
    if (p.epochsDone() > maxEpochs) {
      throw new IllegalStateException(
          "the checkpoint "
              + latest
              + " holds "
              + p.epochsDone()
              + " epochs, more than maxEpochs = "
              + maxEpochs
              + "; raise maxEpochs to at least "
              + p.epochsDone()
              + " or use another checkpointDir");
    }
    read(
        latest,
        MODEL,
        bytes -> {
          try (Safetensors.SafetensorsFile f = Safetensors.read(bytes)) {
            state.model().loadStateDict(f.tensors(), true);
          }
          return null;
        });
    read(
        latest,
        OPTIMIZER,
        bytes -> {
          try (Safetensors.SafetensorsFile f = Safetensors.read(bytes)) {
            state.optimizer().loadStateDict(f.tensors());
          }
          return null;
        });
    if (state.server() != null) {
      read(
          latest,
          SERVER,
          bytes -> {
            state.server().loadState(bytesToFloats(bytes));
            return null;
          });
    }
    // Early stopping returns the best epoch's weights: a checkpoint past that epoch must hold them.
    boolean keepsBest =
        p.bestEpoch() > 0 && !"0".equals(p.settings().getOrDefault("earlyStoppingPatience", "0"));
    RoundWeights best = null;
    if (keepsBest || exists(new Path(latest, BEST))) {
      long values = state.model().flatParameters().values().numel();
      long buffers = ModuleBuffers.read(state.model()).length;
      best =
          read(
              latest,
              BEST,
              bytes -> {
                Map<String, float[]> b = bytesToFloats(bytes);
                if (!b.keySet().equals(Set.of("values", "buffers"))
                    || b.get("values").length != values
                    || b.get("buffers").length != buffers) {
                  throw new IllegalArgumentException(
                      "expected tensors values ("
                          + values
                          + ") and buffers ("
                          + buffers
                          + "), found "
                          + b.keySet()
                          + " of "
                          + b.values().stream().map(a -> a.length).toList());
                }
                return new RoundWeights(b.get("values"), b.get("buffers"));
              });
    }
    LOG.info("resuming from checkpoint {} ({} epochs done)", latest, p.epochsDone());
    return new Restored(p, best, latest);
  }

  /** Refuses a checkpoint whose settings differ from {@code now}, listing every difference. */
  private void refuseOtherSettings(Path latest, Progress p, Map<String, String> now) {
    List<String> diffs = differences(p.settings(), now);
    if (diffs.isEmpty()) {
      return;
    }
    throw new IllegalStateException(
        "the checkpoint "
            + latest
            + " was written by a fit with other settings, which resuming would silently mix ("
            + String.join("; ", diffs)
            + "); resume with the checkpoint's settings or use another checkpointDir"
            + (diffs.stream().anyMatch(d -> d.startsWith("noiseMultiplier:"))
                ? ". A noise multiplier calibrated from targetEpsilon depends on maxEpochs: to"
                    + " train longer, set noiseMultiplier to the checkpoint's value"
                : "")
            + (diffs.stream().anyMatch(d -> d.startsWith("maxEpochs:"))
                ? ". lrSchedule=cosine anneals over all maxEpochs epochs: resume with the"
                    + " checkpoint's maxEpochs"
                : ""));
  }

  /** "name: checkpoint X, now Y" for each setting that differs; "none" where one side lacks it. */
  static List<String> differences(Map<String, String> checkpoint, Map<String, String> now) {
    Set<String> names = new LinkedHashSet<>(checkpoint.keySet());
    names.addAll(now.keySet());
    List<String> out = new ArrayList<>();
    for (String n : names) {
      String was = checkpoint.get(n);
      String is = now.get(n);
      if (was == null ? is != null : !was.equals(is)) {
        out.add(
            n
                + ": checkpoint "
                + (was == null ? "none" : was)
                + ", now "
                + (is == null ? "none" : is));
      }
    }
    return out;
  }

  private Path latest() {
    try {
      if (!fs.exists(dir)) {
        return null;
      }
      Path best = null;
      int bestEpoch = -1;
      for (FileStatus s : fs.listStatus(dir)) {
        Matcher m = NAME.matcher(s.getPath().getName());
        if (s.isDirectory() && m.matches() && Integer.parseInt(m.group(1)) > bestEpoch) {
          bestEpoch = Integer.parseInt(m.group(1));
          best = s.getPath();
        }
      }
      return best;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list checkpoint directory " + dir, e);
    }
  }

  /** Parses a checkpoint's file; what it throws is wrapped. */
  private interface Parser<T> {
    T parse(byte[] bytes) throws IOException;
  }

  /**
   * Reads and parses the file {@code name} of checkpoint {@code checkpoint}.
   *
   * @throws IllegalStateException naming the file when it is missing or its content is invalid
   * @throws UncheckedIOException naming the file when the file system fails
   */
  private <T> T read(Path checkpoint, String name, Parser<T> parser) {
    Path file = new Path(checkpoint, name);
    byte[] bytes;
    try {
      bytes = readBytes(file);
    } catch (FileNotFoundException e) {
      throw corrupt(checkpoint, file, "it is missing", e);
    } catch (ChecksumException e) {
      throw corrupt(checkpoint, file, e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint file " + file + ": " + e, e);
    }
    try {
      return parser.parse(bytes);
    } catch (IOException | RuntimeException e) {
      throw corrupt(checkpoint, file, e.getMessage() != null ? e.getMessage() : e.toString(), e);
    }
  }

  private IllegalStateException corrupt(Path checkpoint, Path file, String why, Exception cause) {
    return new IllegalStateException(
        "checkpoint file "
            + file
            + " is missing or corrupt ("
            + why
            + "); move "
            + checkpoint
            + " out of "
            + dir
            + " to resume from the checkpoint before it, or use another checkpointDir",
        cause);
  }

  private boolean exists(Path path) {
    try {
      return fs.exists(path);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint file " + path + ": " + e, e);
    }
  }

  private void writeBytes(Path path, byte[] bytes) throws IOException {
    try (OutputStream out = fs.create(path, true)) {
      out.write(bytes);
    }
  }

  private byte[] readBytes(Path path) throws IOException {
    try (InputStream in = fs.open(path)) {
      return in.readAllBytes();
    }
  }

  private static byte[] floatsToBytes(Map<String, float[]> arrays) {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    arrays.forEach((k, v) -> tensors.put(k, NDArray.of(v, v.length)));
    return StateDicts.toBytes(tensors);
  }

  private static Map<String, float[]> bytesToFloats(byte[] bytes) throws IOException {
    Map<String, float[]> out = new LinkedHashMap<>();
    try (Safetensors.SafetensorsFile f = Safetensors.read(bytes)) {
      for (Map.Entry<String, NDArray> e : f.tensors().entrySet()) {
        if (e.getValue().shape().length != 1) {
          throw new IllegalArgumentException(
              "tensor '" + e.getKey() + "' is not 1-D: " + Arrays.toString(e.getValue().shape()));
        }
        out.put(e.getKey(), e.getValue().toFloatArray());
      }
    }
    return out;
  }
}
