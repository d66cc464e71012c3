package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FSError;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.io.ModelIO;
import org.emberdl.spark.internal.io.StateDicts;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.plan.TrustedFactories;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What saving and loading a model may do: run no code, allocate within budget, lose nothing. */
class ModelSafetyTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final SparkSession spark = SparkTestSession.get();

  @TempDir Path dir;

  @AfterEach
  void reset() {
    ModelIO.writeFault = file -> {};
    spark.conf().unset(TrustedFactories.CONF);
    spark.conf().unset(ExecutorEngine.MEMORY_LIMIT_CONF);
    ExecutorEngine.get().releaseAll();
  }

  /** Set when {@link Hostile}'s static initializer runs. */
  static final AtomicBoolean HOSTILE_INITIALIZED = new AtomicBoolean();

  /** A class on the classpath whose static initializer a model file must not be able to run. */
  public static final class Hostile {
    static {
      HOSTILE_INITIALIZED.set(true);
    }
  }

  /** A model of {@code mlp()}'s network, 8 -> 16 -> 3, with weights of the given values. */
  private static EmberClassificationModel handMade(float fill) {
    Map<String, NDArray> state = new LinkedHashMap<>();
    try (Module m = NetworkDefinition.of(EmberClassifierTest.mlp()).build(new Generator(1))) {
      Map<String, NDArray> s = m.stateDict();
      try {
        s.forEach((k, v) -> state.put(k, NDArray.full(v.dtype(), fill, v.shape())));
        return new EmberClassificationModel("handMade", StateDicts.toBytes(state), 3, null)
            .setLayers(new int[] {8, 16, 3});
      } finally {
        s.values().forEach(NDArray::close);
      }
    }
  }

  private String save(EmberClassificationModel model, String name) throws IOException {
    String path = dir.resolve(name).toString();
    model.write().save(path);
    return path;
  }

  /** Rewrites the JSON of a saved stage's metadata (and drops the now stale checksum files). */
  private static void editMetadata(String path, Consumer<ObjectNode> edit) throws IOException {
    Path metadata = Path.of(path, "metadata");
    try (Stream<Path> files = Files.list(metadata)) {
      for (Path f : files.toList()) {
        String name = f.getFileName().toString();
        if (name.endsWith(".crc")) {
          Files.delete(f);
        } else if (name.startsWith("part-")) {
          ObjectNode json = (ObjectNode) JSON.readTree(Files.readString(f));
          edit.accept(json);
          Files.writeString(f, json.toString() + "\n");
        }
      }
    }
  }

  private static ObjectNode params(ObjectNode metadata) {
    return (ObjectNode) metadata.get("paramMap");
  }

  // ---- Loading runs no code from the files ----

  @Test
  void aModuleFactoryNamedByAModelIsRefusedUnlessTrusted() throws IOException {
    Dataset<Row> data = TestData.blobs(spark, 120, 8, 3, 15, 2);
    EmberClassificationModel model =
        EmberClassifierTest.mlp()
            .setModuleFactory(TrainingOptionsTest.TwoLayerFactory.class.getName())
            .setInputShape(new int[] {8})
            .setMaxEpochs(1)
            .fit(data);
    String path = save(model, "factory");
    String factory = TrainingOptionsTest.TwoLayerFactory.class.getName();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path));
    assertEquals(
        "the model at "
            + path
            + " names moduleFactory "
            + factory
            + "; loading it would run that class's code on the driver and the executors, so Ember"
            + " loads it only when the class is trusted: if you trust the model and the class, set"
            + " spark.ember.trustedModuleFactories="
            + factory
            + " (a comma-separated list of class names; spark.conf().set or --conf)",
        e.getMessage());

    spark.conf().set(TrustedFactories.CONF, "some.Other, " + factory);
    EmberClassificationModel loaded = EmberClassificationModel.load(path);
    assertArrayEquals(model.weights(), loaded.weights());
    assertEquals(
        model.transform(data).select("prediction").collectAsList(),
        loaded.transform(data).select("prediction").collectAsList());
  }

  @Test
  void aClassNamedByAModelIsNeverInitializedUnlessItIsATrustedModuleFactory() throws IOException {
    String path = save(handMade(0.5f), "hostile");
    String hostile = Hostile.class.getName();
    editMetadata(
        path,
        m ->
            params(m)
                .put("moduleFactory", hostile)
                .set("inputShape", JSON.valueToTree(new int[] {8})));

    IllegalArgumentException untrusted =
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path));
    assertTrue(
        untrusted.getMessage().contains("names moduleFactory " + hostile), untrusted.getMessage());
    assertFalse(HOSTILE_INITIALIZED.get(), "loading ran the static initializer of " + hostile);

    // Even listed as trusted, a class that is not a ModuleFactory is checked before it is
    // initialized, so its static initializer never runs.
    spark.conf().set(TrustedFactories.CONF, hostile);
    IllegalArgumentException notAFactory =
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path));
    assertEquals(
        "moduleFactory " + hostile + " does not implement " + ModuleFactory.class.getName(),
        notAFactory.getMessage());
    assertFalse(HOSTILE_INITIALIZED.get(), "loading ran the static initializer of " + hostile);
  }

  // ---- Params in metadata ----

  @Test
  void integerValuedDoubleParamsLoadAndInvalidOnesNameTheParamAndFile() throws IOException {
    String path = save(handMade(0.5f), "params");
    editMetadata(path, m -> params(m).put("learningRate", 5));
    assertEquals(5.0, EmberClassificationModel.load(path).getLearningRate());

    editMetadata(path, m -> params(m).put("learningRate", -5));
    IllegalArgumentException invalid =
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path));
    assertEquals(
        "Param 'learningRate' in "
            + path
            + "/metadata (paramMap) is invalid: learning rate (> 0); value -5.0",
        invalid.getMessage());

    editMetadata(path, m -> params(m).put("learningRate", "fast"));
    IllegalArgumentException undecodable =
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path));
    assertTrue(
        undecodable
            .getMessage()
            .startsWith(
                "Param 'learningRate' in " + path + "/metadata (paramMap) cannot be decoded"),
        undecodable.getMessage());
    assertTrue(undecodable.getMessage().endsWith("; value \"fast\""), undecodable.getMessage());
  }

  // ---- Loading allocates only what the files justify ----

  @Test
  void aNetworkThatDoesNotFitTheWeightsIsRefusedWithoutBuildingIt() throws IOException {
    String path = save(handMade(0.5f), "huge");
    // 2e9 x 8 floats would be 64 GB: refused from the header alone.
    editMetadata(
        path, m -> params(m).set("layers", JSON.valueToTree(new int[] {8, 2_000_000_000, 3})));
    long before = Allocators.cpuAllocatedBytes();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path));
    assertEquals(before, Allocators.cpuAllocatedBytes());
    assertEquals(
        "the weights in "
            + path
            + "/data/weights.safetensors do not fit the network linear(2000000000), relu,"
            + " linear(3) on [8]: tensor '0.weight' has shape [16, 8] in the file, the network"
            + " expects [2000000000, 8]",
        e.getMessage());
  }

  @Test
  void aModelOverTheMemoryLimitIsRefusedBeforeReadingItsWeights() throws IOException {
    // A network spec 'linear(2000000)' on 8 inputs with a weights file that matches it: 0.weight
    // (2000000, 8) F32 = 64,000,000 bytes, 0.bias (2000000) = 8,000,000; 72,000,000 in all. The
    // file is sparse, so it takes no disk space.
    String path = save(handMade(0.5f), "big");
    editMetadata(
        path,
        m ->
            params(m)
                .put("network", "linear(2000000)")
                .set("inputShape", JSON.valueToTree(new int[] {8})));
    Files.writeString(Path.of(path, "data", "summary.json"), "{\"numOutputs\": 2000000}");
    Path weights = Path.of(path, "data", "weights.safetensors");
    Files.delete(weights);
    Files.deleteIfExists(Path.of(path, "data", ".weights.safetensors.crc"));
    String header =
        "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2000000,8],\"data_offsets\":[0,64000000]},"
            + "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2000000],\"data_offsets\":[64000000,72000000]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    try (RandomAccessFile f = new RandomAccessFile(weights.toFile(), "rw")) {
      f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
      f.write(h);
      f.setLength(8 + h.length + 72_000_000L);
    }
    spark.conf().set(ExecutorEngine.MEMORY_LIMIT_CONF, "64m");
    long before = Allocators.cpuAllocatedBytes();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path));
    assertEquals(before, Allocators.cpuAllocatedBytes());
    // A replica needs the network (72,000,000) and the file's tensors (72,000,000); 64 MiB is
    // 67,108,864 bytes.
    assertEquals(
        "the model in "
            + path
            + " needs 144000000 bytes of off-heap memory per replica (network linear(2000000) on"
            + " [8]: 72000000 bytes; weights file: 72000000 bytes), over the limit of 67108864"
            + " bytes; raise spark.ember.memoryLimit (or spark.executor.memoryOverhead) if the"
            + " model is trusted",
        e.getMessage());
  }

  @Test
  void theMemoryLimitMustBeASize() throws IOException {
    String path = save(handMade(0.5f), "limit");
    spark.conf().set(ExecutorEngine.MEMORY_LIMIT_CONF, "lots");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path));
    assertEquals(
        "spark.ember.memoryLimit must be a size such as 512m or 4g, got 'lots'", e.getMessage());
    // mlp()'s network takes 780 bytes and so does its weights file: 1560 bytes fit, 1559 do not.
    spark.conf().set(ExecutorEngine.MEMORY_LIMIT_CONF, "1560b");
    EmberClassificationModel.load(path);
    spark.conf().set(ExecutorEngine.MEMORY_LIMIT_CONF, "1559b");
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> EmberClassificationModel.load(path))
            .getMessage()
            .contains("needs 1560 bytes of off-heap memory per replica"));
  }

  @Test
  void aNetworkOverTheExecutorBudgetFailsBeforeAllocating() {
    ExecutorEngine.get(); // the engine sets the allocator's limit (384 MiB for local[2] defaults)
    assertEquals(384L << 20, Allocators.cpu().getLimit());
    // 8 -> 20e6 -> 3: 160e6 + 20e6 + 60e6 + 3 floats = 960,000,012 bytes = 915 MiB.
    NetworkDefinition network =
        NetworkDefinition.of(new EmberClassifier().setLayers(new int[] {8, 20_000_000, 3}));
    long before = Allocators.cpuAllocatedBytes();
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> network.build(new Generator(0)));
    assertEquals(before, Allocators.cpuAllocatedBytes());
    assertTrue(
        e.getMessage()
            .startsWith(
                "the network linear(20000000), relu, linear(3) on [8] needs 915 MiB of off-heap"
                    + " memory for its weights, over the "),
        e.getMessage());
  }

  @Test
  void aBatchOverTheExecutorBudgetIsRefusedByTheAllocatorNotAfterAllocating() {
    ExecutorEngine.get(); // the engine sets the allocator's limit (384 MiB for local[2] defaults)
    long limit = Allocators.cpu().getLimit();
    assertEquals(384L << 20, limit);
    // conv(64, k=3, p=1) on (1, 64, 64): a batch of 512 rows has a conv output of
    // 512 * 64 * 64 * 64 * 4 bytes = 512 MiB, over the limit, while the weights take 3 MiB.
    Dataset<Row> data = TestData.blobs(spark, 512, 64 * 64, 3, 1, 1);
    EmberClassifier clf =
        new EmberClassifier()
            .setNetwork("conv(64,k=3,p=1), flatten, linear(3)")
            .setInputShape(new int[] {1, 64, 64})
            .setBatchSize(512)
            .setMaxEpochs(1)
            .setNumPartitions(1)
            .setSeed(1L);
    Exception e = assertThrows(Exception.class, () -> clf.fit(data));
    String messages = causes(e);
    assertTrue(
        messages.contains(
            "a batch of 512 rows needs more off-heap memory than this executor allows"),
        messages);
    assertTrue(messages.contains("limit 384 MiB"), messages);
    // The allocator refused the request: the JVM never held more than the limit.
    assertTrue(Allocators.cpuPeakBytes() <= limit, "peak " + Allocators.cpuPeakBytes());
  }

  private static String causes(Throwable e) {
    StringBuilder sb = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      sb.append(t.getMessage()).append('\n');
    }
    return sb.toString();
  }

  @Test
  void aRegressionModelRoundTripsThroughTheSameChecks() throws IOException {
    Dataset<Row> data = TestData.linear(spark, 100, 3, 16);
    EmberRegressionModel model =
        new EmberRegressor()
            .setLayers(new int[] {3, 4, 1})
            .setBatchSize(25)
            .setMaxEpochs(2)
            .setLearningRate(0.01)
            .setSeed(1L)
            .fit(data);
    String path = dir.resolve("regressor").toString();
    model.write().save(path);
    EmberRegressionModel loaded = EmberRegressionModel.load(path);
    assertEquals(model.uid(), loaded.uid());
    assertArrayEquals(model.weights(), loaded.weights());
    assertEquals(model.trainingSummary(), loaded.trainingSummary());
    assertEquals(
        model.transform(data).select("prediction").collectAsList(),
        loaded.transform(data).select("prediction").collectAsList());
    // One output per example: a summary claiming two contradicts the network.
    Files.writeString(Path.of(path, "data", "summary.json"), "{\"numOutputs\": 2}");
    Files.deleteIfExists(Path.of(path, "data", ".summary.json.crc"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> EmberRegressionModel.load(path));
    assertEquals(
        "the training summary "
            + path
            + "/data/summary.json has numOutputs 2 but the network linear(4), relu, linear(1) on"
            + " [3] has 1 outputs",
        e.getMessage());
  }

  // ---- Saving ----

  @Test
  void saveRefusesAnExistingPathUnlessOverwriteAndNeverOverwritesWhatIsNotAModel()
      throws IOException {
    String path = save(handMade(0.5f), "model");
    IOException exists = assertThrows(IOException.class, () -> handMade(0.25f).write().save(path));
    assertTrue(
        exists.getMessage().startsWith("Path " + path + " already exists."), exists.getMessage());

    handMade(0.25f).write().overwrite().save(path);
    assertArrayEquals(handMade(0.25f).weights(), EmberClassificationModel.load(path).weights());

    Path notAModel = Files.createDirectories(dir.resolve("data"));
    Files.writeString(notAModel.resolve("train.csv"), "1,2,3\n");
    IOException foreign =
        assertThrows(
            IOException.class, () -> handMade(0.5f).write().overwrite().save(notAModel.toString()));
    assertEquals(
        "refusing to overwrite "
            + notAModel
            + ": it is not an Ember model, and overwrite() only replaces what Ember wrote; remove"
            + " it yourself or save elsewhere",
        foreign.getMessage());
    assertEquals("1,2,3\n", Files.readString(notAModel.resolve("train.csv")));
    assertEquals(List.of("data", "model"), listDir());
  }

  @Test
  void aSaveThatFailsMidwayLeavesTheOldModelIntactAndNothingHalfWritten() throws IOException {
    EmberClassificationModel old = handMade(0.5f);
    String path = save(old, "model");
    ModelIO.writeFault =
        file -> {
          if (file.getName().equals("weights.safetensors")) {
            throw diskFull();
          }
        };
    IOException e =
        assertThrows(IOException.class, () -> handMade(0.25f).write().overwrite().save(path));
    assertEquals(
        "cannot save the model to "
            + path
            + " (the existing model is left as it was): No space"
            + " left on device",
        e.getMessage());
    assertTrue(e.getCause() instanceof FSError);
    assertArrayEquals(old.weights(), EmberClassificationModel.load(path).weights());
    assertEquals(List.of("model"), listDir()); // no temporary directory left beside it

    // A fresh path gets nothing at all.
    String fresh = dir.resolve("fresh").toString();
    IOException e2 = assertThrows(IOException.class, () -> handMade(0.25f).write().save(fresh));
    assertTrue(e2.getMessage().contains("(nothing is left at the path)"), e2.getMessage());
    assertEquals(List.of("model"), listDir());
  }

  /** What Hadoop's local file system throws when a write hits a full disk. */
  private static FSError diskFull() {
    try {
      var c = FSError.class.getDeclaredConstructor(Throwable.class);
      c.setAccessible(true); // package-private: only Hadoop's file systems make them
      return c.newInstance(new IOException("No space left on device"));
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }

  private List<String> listDir() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void nonFiniteWeightsAreSavedOnlyWhenAskedFor() throws IOException {
    EmberClassificationModel good = handMade(0.5f);
    Map<String, NDArray> state = new LinkedHashMap<>();
    try (Safetensors.SafetensorsFile f = Safetensors.read(good.weights())) {
      for (var entry : f.tensors().entrySet()) {
        float[] v = entry.getValue().toFloatArray();
        if (entry.getKey().equals("2.weight")) {
          v[5] = Float.NaN;
          v[7] = Float.POSITIVE_INFINITY;
        }
        state.put(entry.getKey(), NDArray.of(v, entry.getValue().shape()));
      }
    }
    EmberClassificationModel nan =
        new EmberClassificationModel("nan", StateDicts.toBytes(state), 3, null)
            .setLayers(new int[] {8, 16, 3});
    String path = dir.resolve("nan").toString();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> nan.write().save(path));
    assertEquals(
        "refusing to save the model to "
            + path
            + ": its weights are not finite (tensor '2.weight' holds NaN at flat index 5), as"
            + " after training that diverged (try a lower learningRate); save it anyway with"
            + " write().option(\"allowNonFinite\", \"true\")",
        e.getMessage());
    assertFalse(Files.exists(Path.of(path)));
    IllegalArgumentException badOption =
        assertThrows(
            IllegalArgumentException.class,
            () -> nan.write().option("allowNonFinite", "yes").save(path));
    assertTrue(badOption.getMessage().contains("must be true or false, got 'yes'"));

    nan.write().option("allowNonFinite", "true").save(path);
    assertArrayEquals(nan.weights(), EmberClassificationModel.load(path).weights());
  }
}
