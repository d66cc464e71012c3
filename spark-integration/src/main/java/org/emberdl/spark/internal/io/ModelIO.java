package org.emberdl.spark.internal.io;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.EmberClassificationModel;
import org.emberdl.spark.EmberOnnxModel;
import org.emberdl.spark.EmberRegressionModel;
import org.emberdl.spark.TrainingSummary;
import org.emberdl.spark.internal.data.SparkInternals;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.plan.TrustedFactories;
import org.emberdl.spark.internal.train.MetricsJson;
import org.emberdl.spark.internal.train.TrainingCurvesSvg;

/**
 * Saving and loading Ember models the Spark ML way: {@code path/metadata} is Spark's params
 * metadata (so {@code PipelineModel} and {@code CrossValidatorModel} persistence read it like any
 * stage's), {@code path/data/weights.safetensors} the network's state dict with PyTorch's key names
 * (loadable with {@code safetensors.torch.load_file}), {@code path/data/summary.json} the training
 * summary, {@code path/data/network.onnx} the graph of a network defined by ONNX (an {@link
 * EmberOnnxModel}, or a fit from {@code initialModel}), and {@code path/data/training.svg} its
 * curves as a picture ({@link TrainingCurvesSvg}; only written, never read).
 *
 * <p>Saving follows Spark's {@code MLWriter}: an existing path is an error unless {@code
 * write().overwrite()} is used, and then only an Ember model is replaced. The model is written to a
 * hidden sibling directory and renamed into place ({@link AtomicSave}), so a failed save leaves the
 * path as it was. Weights holding NaN or infinity are refused unless the writer option {@code
 * allowNonFinite} is {@code "true"}.
 *
 * <p>Loading runs no code named by the files and allocates only what they justify. The Params are
 * decoded and validated first; a network given as {@code layers} or a {@code network} spec is
 * compared, key by key and shape by shape, with the weights file's header without building it, and
 * the off-heap memory a replica needs is checked against {@code spark.ember.memoryLimit} before
 * anything is read. A model whose {@code moduleFactory} names a class is refused unless that class
 * is listed in {@code spark.ember.trustedModuleFactories}: loading it would run its code.
 */
public final class ModelIO {
  /** The writer option that lets weights holding NaN or infinity be saved. */
  static final String ALLOW_NON_FINITE = "allowNonFinite";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String WEIGHTS = "weights.safetensors";
  private static final String SUMMARY = "summary.json";

  /** The graph of a network defined by ONNX (EmberOnnxModel, initialModel): {@code data/}. */
  static final String ONNX_GRAPH = "network.onnx";

  /** The training curves, drawn from the summary: {@code data/training.svg}. */
  static final String CURVES = "training.svg";

  /** A summary holds per-epoch metrics; anything larger is not one Ember wrote. */
  private static final long MAX_SUMMARY_BYTES = 64L << 20;

  private static final Set<String> MODEL_CLASSES =
      Set.of(
          EmberClassificationModel.class.getName(),
          EmberRegressionModel.class.getName(),
          EmberOnnxModel.class.getName());

  /**
   * Called before each data file of a save is written: a seam for tests that make a save fail
   * midway (as a full disk does), which no real file system does on demand.
   */
  public interface WriteFault {
    void before(Path file) throws IOException;
  }

  public static volatile WriteFault writeFault = file -> {};

  private ModelIO() {}

  /** A writer for {@code model}. */
  public static <M extends EmberModel<M>> MLWriter writer(M model) {
    return new Writer<>(model);
  }

  private static final class Writer<M extends EmberModel<M>> extends MLWriter {
    private final M model;

    Writer(M model) {
      this.model = model;
    }

    /**
     * Saves atomically; see {@link ModelIO}.
     *
     * @throws IOException when the path exists (without {@code overwrite()}, or holding something
     *     other than an Ember model), or when writing fails (the path is then as it was)
     * @throws IllegalArgumentException when the weights hold NaN or infinity (without {@code
     *     allowNonFinite}), naming the first such tensor and element
     */
    @Override
    public void save(String path) throws IOException {
      if (!allowNonFinite()) {
        FiniteWeights.check(model.weights(), path);
      }
      Configuration conf = sparkSession().sparkContext().hadoopConfiguration();
      Path target = new Path(path);
      AtomicSave.save(
          target.getFileSystem(conf),
          target,
          "model",
          shouldOverwrite(),
          ModelIO::isEmberModel,
          dir -> saveImpl(dir.toString()));
    }

    private boolean allowNonFinite() {
      scala.Option<String> v = optionMap().get(ALLOW_NON_FINITE.toLowerCase(Locale.ROOT));
      if (v.isEmpty()) {
        return false;
      }
      return switch (v.get().trim().toLowerCase(Locale.ROOT)) {
        case "true" -> true;
        case "false" -> false;
        default ->
            throw new IllegalArgumentException(
                "the writer option "
                    + ALLOW_NON_FINITE
                    + " must be true or false, got '"
                    + v.get()
                    + "'");
      };
    }

    /** Writes the model's files under {@code path}, which {@link #save} makes a fresh directory. */
    @Override
    public void saveImpl(String path) {
      SparkInternals.saveMetadata(model, path, sparkSession());
      Configuration conf = sparkSession().sparkContext().hadoopConfiguration();
      Path data = new Path(path, "data");
      Map<String, Object> summary = new LinkedHashMap<>();
      summary.put("numOutputs", model.numOutputs());
      TrainingSummary s = model.summaryOrNull();
      if (s != null) {
        summary.put("epochs", MetricsJson.toJson(s.epochs()));
        summary.put("stoppedEarly", s.stoppedEarly());
        summary.put("bestEpoch", s.bestEpoch());
        summary.put("trainRows", s.trainRows());
        summary.put("validationRows", s.validationRows());
        summary.put("partitions", s.partitions());
        summary.put("roundsPerEpoch", s.roundsPerEpoch());
        summary.put("meanRoundMillis", String.valueOf(s.meanRoundMillis()));
      }
      try {
        write(conf, new Path(data, WEIGHTS), model.weights());
        if (model.onnxGraph() != null) {
          write(conf, new Path(data, ONNX_GRAPH), model.onnxGraph());
        }
        write(
            conf,
            new Path(data, SUMMARY),
            JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(summary));
        if (s != null) {
          write(
              conf,
              new Path(data, CURVES),
              TrainingCurvesSvg.render(s).getBytes(StandardCharsets.UTF_8));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot save the model's data under " + data, e);
      }
    }
  }

  /** Whether {@code dir} is a directory whose Spark ML metadata names an Ember model class. */
  static boolean isEmberModel(FileSystem fs, Path dir) throws IOException {
    Path metadata = new Path(dir, "metadata");
    if (!fs.getFileStatus(dir).isDirectory() || !fs.exists(metadata)) {
      return false;
    }
    for (FileStatus part : fs.listStatus(metadata)) {
      if (!part.isFile() || !part.getPath().getName().startsWith("part-")) {
        continue;
      }
      try (BufferedReader r =
          new BufferedReader(
              new InputStreamReader(fs.open(part.getPath()), StandardCharsets.UTF_8))) {
        String line = r.readLine();
        if (line == null || line.length() > MAX_SUMMARY_BYTES) {
          continue;
        }
        JsonNode cls = JSON.readTree(line).get("class");
        return cls != null && MODEL_CLASSES.contains(cls.asText());
      } catch (IOException e) {
        return false; // not JSON: not metadata Spark wrote
      }
    }
    return false;
  }

  /** How a reader makes the model object once the files are read. */
  public interface Factory<M> {
    M create(String uid, byte[] weights, int numOutputs, TrainingSummary summary, byte[] onnxGraph);
  }

  /** A reader of models of {@code cls}. */
  public static <M extends EmberModel<M>> MLReader<M> reader(Class<M> cls, Factory<M> factory) {
    return new MLReader<M>() {
      @Override
      public M load(String path) {
        return ModelIO.load(sparkSession(), path, cls, factory);
      }
    };
  }

  private static <M extends EmberModel<M>> M load(
      SparkSession spark, String path, Class<M> cls, Factory<M> factory) {
    DefaultParamsReader.Metadata metadata = SparkInternals.loadMetadata(path, spark, cls.getName());
    String metadataFile = path + "/metadata";
    // The Params first, on a model without weights: they say what the weights must fit.
    M probe = factory.create(metadata.uid(), new byte[0], 0, null, null);
    SparkInternals.setParams(metadata, probe, metadataFile);
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path data = new Path(path, "data");
    byte[] onnxGraph = null;
    NetworkDefinition network;
    if (cls == EmberOnnxModel.class || !probe.getInitialModel().isEmpty()) {
      // the network is the saved graph; the initialModel path only says where it came from
      Path graphFile = new Path(data, ONNX_GRAPH);
      onnxGraph = OnnxFiles.read(conf, graphFile, "the model's ONNX network");
      // imported here, once: an unreadable graph or one that contradicts inputShape names the file
      network = NetworkDefinition.onnx(onnxGraph, "the model's ONNX network " + graphFile, probe);
    } else {
      try {
        network = NetworkDefinition.of(probe);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "the Params in " + metadataFile + " do not define a network: " + e.getMessage(), e);
      }
    }
    if (network.fromFactory()) {
      TrustedFactories.check(spark, network.factoryClass(), path);
    }
    byte[] weights;
    Map<String, Object> json;
    try {
      weights =
          WeightsFile.read(
              conf, new Path(data, WEIGHTS), network, ExecutorEngine.memoryLimit(spark));
      json = readSummary(conf, new Path(data, SUMMARY));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the model's data under " + data, e);
    }
    Path summaryFile = new Path(data, SUMMARY);
    int numOutputs = numOutputs(json, network, summaryFile);
    TrainingSummary summary;
    try {
      summary = summary(json);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "the training summary " + summaryFile + " is not one Ember wrote: " + e, e);
    }
    M model = factory.create(metadata.uid(), weights, numOutputs, summary, onnxGraph);
    SparkInternals.setParams(metadata, model, metadataFile);
    return model;
  }

  private static Map<String, Object> readSummary(Configuration conf, Path file) throws IOException {
    FileSystem fs = file.getFileSystem(conf);
    long size = fs.getFileStatus(file).getLen();
    if (size > MAX_SUMMARY_BYTES) {
      throw new IllegalArgumentException(
          "the training summary " + file + " is " + size + " bytes, more than Ember writes");
    }
    try {
      return JSON.readValue(read(conf, file), new TypeReference<Map<String, Object>>() {});
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(
          "the training summary " + file + " is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  private static int numOutputs(Map<String, Object> json, NetworkDefinition network, Path file) {
    if (!(json.get("numOutputs") instanceof Integer n) || n <= 0) {
      throw new IllegalArgumentException(
          "the training summary "
              + file
              + " has numOutputs "
              + json.get("numOutputs")
              + ", expected a positive integer");
    }
    if (!network.fromFactory() && n != network.outputSize()) {
      throw new IllegalArgumentException(
          "the training summary "
              + file
              + " has numOutputs "
              + n
              + " but the network "
              + network
              + " has "
              + network.outputSize()
              + " outputs");
    }
    return n;
  }

  @SuppressWarnings("unchecked")
  private static TrainingSummary summary(Map<String, Object> json) {
    if (!json.containsKey("epochs")) {
      return null;
    }
    return new TrainingSummary(
        MetricsJson.fromJson((List<Map<String, Object>>) json.get("epochs")),
        (Boolean) json.get("stoppedEarly"),
        ((Number) json.get("bestEpoch")).intValue(),
        ((Number) json.get("trainRows")).longValue(),
        ((Number) json.get("validationRows")).longValue(),
        ((Number) json.get("partitions")).intValue(),
        ((Number) json.get("roundsPerEpoch")).intValue(),
        Double.parseDouble(String.valueOf(json.get("meanRoundMillis"))));
  }

  private static void write(Configuration conf, Path path, byte[] bytes) throws IOException {
    writeFault.before(path);
    FileSystem fs = path.getFileSystem(conf);
    try (OutputStream out = fs.create(path, false)) {
      out.write(bytes);
    }
  }

  private static byte[] read(Configuration conf, Path path) throws IOException {
    FileSystem fs = path.getFileSystem(conf);
    try (InputStream in = fs.open(path)) {
      return in.readAllBytes();
    }
  }
}
