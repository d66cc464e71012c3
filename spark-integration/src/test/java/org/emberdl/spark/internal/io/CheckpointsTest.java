package org.emberdl.spark.internal.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;
import org.emberdl.federated.ServerOptimizer;
import org.emberdl.nn.Linear;
import org.emberdl.optim.Sgd;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.tensor.Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints on their own: atomic writes, and what a checkpoint holds round-trips exactly. */
class CheckpointsTest {
  @TempDir Path dir;

  /**
   * The local file system under the scheme {@code failing:}, whose {@code create} of a file named
   * {@link #failOn} fails as a full disk would.
   */
  public static final class FailingFileSystem extends RawLocalFileSystem {
    static volatile String failOn;

    @Override
    public URI getUri() {
      return URI.create("failing:///");
    }

    @Override
    public String getScheme() {
      return "failing";
    }

    @Override
    public FSDataOutputStream create(
        org.apache.hadoop.fs.Path f,
        FsPermission permission,
        boolean overwrite,
        int bufferSize,
        short replication,
        long blockSize,
        Progressable progress)
        throws IOException {
      failIfAsked(f);
      return super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public FSDataOutputStream create(
        org.apache.hadoop.fs.Path f,
        boolean overwrite,
        int bufferSize,
        short replication,
        long blockSize,
        Progressable progress)
        throws IOException {
      failIfAsked(f);
      return super.create(f, overwrite, bufferSize, replication, blockSize, progress);
    }

    private static void failIfAsked(org.apache.hadoop.fs.Path f) throws IOException {
      if (f.getName().equals(failOn)) {
        throw new IOException("No space left on device");
      }
    }
  }

  private static Configuration failingConf() {
    Configuration conf = new Configuration(false);
    conf.set("fs.failing.impl", FailingFileSystem.class.getName());
    conf.setBoolean("fs.failing.impl.disable.cache", true);
    return conf;
  }

  private static Checkpoints.Progress progress(int epochs, List<Checkpoints.PrivacySteps> ledger) {
    return new Checkpoints.Progress(
        epochs, Map.of("aggregation", "dp-sgd"), 0.5, epochs, 0, List.of(), ledger);
  }

  private List<String> listing() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString())
          .filter(n -> !n.startsWith("."))
          .sorted()
          .toList();
    }
  }

  @Test
  void aFailedWriteLeavesTheEarlierCheckpointAndNoPartialOne() throws IOException {
    Checkpoints ckpt = new Checkpoints("failing://" + dir, failingConf());
    try (Linear model = new Linear(3, 2, new Generator(1));
        Sgd sgd = new Sgd(model, 0.1, 0.9)) {
      Checkpoints.State state = new Checkpoints.State(model, sgd, ServerOptimizer.momentum(1, 0.9));
      state.server().step(new float[] {1, 2, 3, 4, 5, 6, 7, 8});
      FailingFileSystem.failOn = null;
      ckpt.write(state, progress(1, List.of()), null);

      FailingFileSystem.failOn = "optimizer.safetensors"; // after model.safetensors is written
      UncheckedIOException e =
          assertThrows(
              UncheckedIOException.class, () -> ckpt.write(state, progress(2, List.of()), null));
      assertTrue(
          e.getMessage()
              .startsWith(
                  "cannot write checkpoint failing:"
                      + dir.resolve("epoch-000002")
                      + " (the earlier"),
          e.getMessage());
      assertTrue(e.getMessage().endsWith("are intact): No space left on device"), e.getMessage());
      // Neither a visible epoch-000002 nor its temporary directory is left behind.
      assertEquals(List.of("epoch-000001"), listing());

      FailingFileSystem.failOn = null;
      Checkpoints.Restored r = ckpt.restoreLatest(state, Map.of("aggregation", "dp-sgd"), 5);
      assertEquals(1, r.progress().epochsDone());
    } finally {
      FailingFileSystem.failOn = null;
    }
  }

  @Test
  void theServerStateTheBestWeightsAndThePrivacyLedgerRoundTrip() {
    Checkpoints ckpt = new Checkpoints(dir.toString(), new Configuration(false));
    List<Checkpoints.PrivacySteps> ledger =
        Checkpoints.PrivacySteps.append(
            Checkpoints.PrivacySteps.append(List.of(), 0.1, 0.8, 10), 0.1, 0.8, 10);
    assertEquals(List.of(new Checkpoints.PrivacySteps(0.1, 0.8, 20)), ledger);
    ledger = Checkpoints.PrivacySteps.append(ledger, 0.05, 1.1, 3);
    try (Linear model = new Linear(3, 2, new Generator(1));
        Sgd sgd = new Sgd(model, 0.1, 0.9)) {
      ServerOptimizer adam = ServerOptimizer.adam(1, 0.5, 0.75, 1);
      adam.step(new float[] {2, 0, 0, 0, 0, 0, 0, 0});
      RoundWeights best = new RoundWeights(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, new float[0]);
      ckpt.write(new Checkpoints.State(model, sgd, adam), progress(3, ledger), best);

      ServerOptimizer fresh = ServerOptimizer.adam(1, 0.5, 0.75, 1);
      Checkpoints.Restored r =
          ckpt.restoreLatest(
              new Checkpoints.State(model, sgd, fresh), Map.of("aggregation", "dp-sgd"), 3);
      assertEquals(ledger, r.progress().privacy());
      assertArrayEquals(best.values(), r.best().values());
      assertArrayEquals(adam.state().get("m"), fresh.state().get("m"));
      assertArrayEquals(adam.state().get("v"), fresh.state().get("v"));
    }
  }
}
