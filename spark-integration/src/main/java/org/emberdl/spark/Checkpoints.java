package org.emberdl.spark;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;
import org.emberdl.tensor.io.Safetensors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Training checkpoints in a directory of any Hadoop file system: {@code epoch-NNNNNN/} holds the
 * model's state dict and the optimizer's state (safetensors) and the progress (JSON). A checkpoint
 * is written under a temporary name and renamed when complete, so a failure mid-write leaves the
 * earlier checkpoints intact and is never mistaken for a checkpoint.
 */
final class Checkpoints {
  private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);
  private static final Pattern NAME = Pattern.compile("epoch-(\\d{6})");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a checkpoint restores besides the weights. */
  record Progress(
      int epochsDone,
      String network,
      long trainRows,
      double bestValidationLoss,
      int bestEpoch,
      int epochsWithoutImprovement,
      List<EpochMetrics> history) {}

  private final Path dir;
  private final FileSystem fs;

  Checkpoints(String dir, Configuration hadoopConf) {
    this.dir = new Path(dir);
    try {
      this.fs = this.dir.getFileSystem(hadoopConf);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open checkpoint directory " + dir, e);
    }
  }

  /** Writes the checkpoint after {@code progress.epochsDone()} epochs. */
  void write(Module model, Optimizer optimizer, Progress progress) {
    String name = String.format("epoch-%06d", progress.epochsDone());
    Path tmp = new Path(dir, "_tmp-" + name);
    Path done = new Path(dir, name);
    try {
      fs.mkdirs(dir);
      fs.delete(tmp, true);
      fs.mkdirs(tmp);
      writeBytes(new Path(tmp, "model.safetensors"), StateDicts.toBytes(model.stateDict()));
      writeBytes(new Path(tmp, "optimizer.safetensors"), StateDicts.toBytes(optimizer.stateDict()));
      writeBytes(new Path(tmp, "progress.json"), JSON.writeValueAsBytes(toJson(progress)));
      fs.delete(done, true);
      if (!fs.rename(tmp, done)) {
        throw new IOException("rename " + tmp + " -> " + done + " failed");
      }
      LOG.info("checkpoint written: {}", done);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write checkpoint " + done, e);
    }
  }

  /**
   * Restores the newest complete checkpoint into {@code model} and {@code optimizer}, after {@code
   * check} accepted its progress (it throws to refuse one written for another run).
   *
   * @return its progress, or null when the directory holds none
   */
  Progress restoreLatest(Module model, Optimizer optimizer, Consumer<Progress> check) {
    Path latest = latest();
    if (latest == null) {
      return null;
    }
    try {
      Progress p =
          fromJson(
              JSON.readValue(
                  readBytes(new Path(latest, "progress.json")),
                  new TypeReference<Map<String, Object>>() {}));
      check.accept(p);
      try (Safetensors.SafetensorsFile f =
          Safetensors.read(readBytes(new Path(latest, "model.safetensors")))) {
        model.loadStateDict(f.tensors(), true);
      }
      try (Safetensors.SafetensorsFile f =
          Safetensors.read(readBytes(new Path(latest, "optimizer.safetensors")))) {
        optimizer.loadStateDict(f.tensors());
      }
      LOG.info("resuming from checkpoint {} ({} epochs done)", latest, p.epochsDone());
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint " + latest, e);
    }
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

  private static Map<String, Object> toJson(Progress p) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("epochsDone", p.epochsDone());
    m.put("network", p.network());
    m.put("trainRows", p.trainRows());
    m.put("bestValidationLoss", String.valueOf(p.bestValidationLoss()));
    m.put("bestEpoch", p.bestEpoch());
    m.put("epochsWithoutImprovement", p.epochsWithoutImprovement());
    m.put("history", MetricsJson.toJson(p.history()));
    return m;
  }

  @SuppressWarnings("unchecked")
  private static Progress fromJson(Map<String, Object> m) {
    return new Progress(
        ((Number) m.get("epochsDone")).intValue(),
        (String) m.get("network"),
        ((Number) m.get("trainRows")).longValue(),
        Double.parseDouble((String) m.get("bestValidationLoss")),
        ((Number) m.get("bestEpoch")).intValue(),
        ((Number) m.get("epochsWithoutImprovement")).intValue(),
        new ArrayList<>(MetricsJson.fromJson((List<Map<String, Object>>) m.get("history"))));
  }
}
