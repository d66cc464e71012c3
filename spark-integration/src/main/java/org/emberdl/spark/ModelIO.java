package org.emberdl.spark;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.SparkSession;
import org.emberdl.nn.Module;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.io.Safetensors;
import org.emberdl.tensor.io.SafetensorsFormatException;

/**
 * Saving and loading Ember models the Spark ML way: {@code path/metadata} is Spark's params
 * metadata (so {@code PipelineModel} and {@code CrossValidatorModel} persistence read it like any
 * stage's), {@code path/data/weights.safetensors} the network's state dict with PyTorch's key names
 * (loadable with {@code safetensors.torch.load_file}), {@code path/data/summary.json} the training
 * summary. Loading executes no code from the files: the network is rebuilt from the saved Params,
 * and the weights must match it exactly.
 */
final class ModelIO {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String WEIGHTS = "weights.safetensors";
  private static final String SUMMARY = "summary.json";

  private ModelIO() {}

  /** A writer for {@code model}. */
  static <M extends EmberModel<M>> MLWriter writer(M model) {
    return new MLWriter() {
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
          write(
              conf,
              new Path(data, SUMMARY),
              JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(summary));
        } catch (IOException e) {
          throw new UncheckedIOException("cannot save the model's data under " + data, e);
        }
      }
    };
  }

  /** How a reader makes the model object once the files are read. */
  interface Factory<M> {
    M create(String uid, byte[] weights, int numOutputs, TrainingSummary summary);
  }

  /** A reader of models of {@code cls}. */
  static <M extends EmberModel<M>> MLReader<M> reader(Class<M> cls, Factory<M> factory) {
    return new MLReader<M>() {
      @Override
      public M load(String path) {
        SparkSession spark = sparkSession();
        DefaultParamsReader.Metadata metadata =
            SparkInternals.loadMetadata(path, spark, cls.getName());
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Path data = new Path(path, "data");
        byte[] weights;
        Map<String, Object> json;
        try {
          weights = read(conf, new Path(data, WEIGHTS));
          json =
              JSON.readValue(
                  read(conf, new Path(data, SUMMARY)), new TypeReference<Map<String, Object>>() {});
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read the model's data under " + data, e);
        }
        M model =
            factory.create(
                metadata.uid(),
                weights,
                ((Number) json.get("numOutputs")).intValue(),
                summary(json));
        SparkInternals.setParams(metadata, model);
        checkWeights(model, path);
        return model;
      }
    };
  }

  /** Builds the network from the model's Params and loads the weights strictly into it. */
  static void checkWeights(EmberModel<?> model, String path) {
    NetworkDefinition network = NetworkDefinition.of(model);
    try (Module m = network.build(new Generator(0));
        Safetensors.SafetensorsFile f = Safetensors.read(model.weights())) {
      m.loadStateDict(f.tensors(), true);
    } catch (SafetensorsFormatException e) {
      throw new IllegalArgumentException(
          "the weights in "
              + path
              + "/data/"
              + WEIGHTS
              + " are not valid safetensors: "
              + e.getMessage(),
          e);
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new IllegalArgumentException(
          "the weights in "
              + path
              + "/data/"
              + WEIGHTS
              + " do not fit the network "
              + network
              + ": "
              + e.getMessage(),
          e);
    }
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
    FileSystem fs = path.getFileSystem(conf);
    try (OutputStream out = fs.create(path, true)) {
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
