package org.emberdl.spark;

import org.apache.spark.ml.classification.ProbabilisticClassificationModel;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.infer.BatchInference;
import org.emberdl.spark.internal.infer.ClassifierVectors;
import org.emberdl.spark.internal.infer.LocalPredictor;
import org.emberdl.spark.internal.io.EmberModel;
import org.emberdl.spark.internal.io.ModelExport;
import org.emberdl.spark.internal.io.ModelIO;
import org.emberdl.spark.internal.io.OnnxFiles;
import org.emberdl.spark.internal.io.StateDicts;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.plan.EmberParamSet;
import org.emberdl.spark.internal.plan.PendingUid;
import org.emberdl.spark.internal.plan.StageSchemas;
import org.emberdl.tensor.Generator;

/**
 * A classifier given as an ONNX model (e.g. trained in PyTorch and written by {@code
 * torch.onnx.export}), scored on Spark exactly as a trained {@link EmberClassificationModel}: the
 * same batched forward passes on the executors, {@code handleInvalid}, {@code inferenceBatchSize},
 * and output columns {@code rawPrediction} (the graph's output, as logits), {@code probability}
 * (its softmax) and {@code prediction}.
 *
 * <pre>{@code
 * EmberOnnxModel model = EmberOnnxModel.fromOnnx("/models/fashion_mlp.onnx");
 * model.setFeaturesCol("pixels").transform(df).select("prediction", "probability");
 * model.write().save("/models/fashion-ember");   // metadata, data/network.onnx, weights
 * EmberOnnxModel again = EmberOnnxModel.load("/models/fashion-ember");
 * }</pre>
 *
 * <p>The graph must have one float input whose dims after the batch are the example's shape
 * (features are reshaped to it); a graph whose dims are symbolic needs {@code inputShape}. Its
 * first output, flattened per example, are the logits. The ops Ember imports are listed on {@link
 * org.emberdl.onnx.OnnxModule}. To fine-tune the model, use {@code
 * EmberClassifier.setInitialModel(path)}.
 */
public class EmberOnnxModel extends ProbabilisticClassificationModel<Vector, EmberOnnxModel>
    implements EmberModel<EmberOnnxModel>, MLWritable {
  private static final long serialVersionUID = 1L;
  private static final String PREFIX = "emberOnnxModel";

  private String uid; // assigned by the first uid() call, during the superclass constructor
  private final EmberParamSet emberParams;
  private final byte[] weights;
  private final int numClasses;
  private final byte[] onnxGraph;

  EmberOnnxModel(
      String uid, byte[] weights, int numClasses, TrainingSummary summary, byte[] onnxGraph) {
    this(PendingUid.set(uid), weights, numClasses, onnxGraph);
  }

  private EmberOnnxModel(PendingUid.Token token, byte[] weights, int numClasses, byte[] onnxGraph) {
    super();
    this.emberParams = new EmberParamSet(this);
    this.weights = weights;
    this.numClasses = numClasses;
    this.onnxGraph = onnxGraph;
    initEmberDefaults();
    setDefault(emberParams.loss, "cross_entropy");
  }

  /**
   * The model in the ONNX file at {@code path} (any Hadoop file system; a plain path is local), its
   * example shape read from the graph's input.
   *
   * @throws IllegalArgumentException naming the file when it is missing, not an ONNX model Ember
   *     can import, has other than one float input, or its input's dims after the batch are not
   *     fixed (then use {@link #fromOnnx(String, int[])})
   */
  public static EmberOnnxModel fromOnnx(String path) {
    return fromOnnx(path, null);
  }

  /**
   * The model in the ONNX file at {@code path}, its features reshaped to {@code inputShape} (one
   * example, without the batch dim), which must agree with the graph's fixed dims.
   *
   * @throws IllegalArgumentException as {@link #fromOnnx(String)}, or naming inputShape when it
   *     contradicts the graph
   */
  public static EmberOnnxModel fromOnnx(String path, int[] inputShape) {
    byte[] graph = OnnxFiles.read(path, "ONNX model");
    EmberOnnxModel probe =
        new EmberOnnxModel(Identifiable.randomUID(PREFIX), new byte[0], 0, null, null);
    if (inputShape != null) {
      probe.setInputShape(inputShape);
    }
    NetworkDefinition network = NetworkDefinition.onnx(graph, "ONNX model " + path, probe);
    byte[] weights;
    try (Module m = network.build(new Generator(0))) {
      weights = StateDicts.toBytes(m.stateDict());
    }
    EmberOnnxModel model =
        new EmberOnnxModel(probe.uid(), weights, network.outputSize(), null, graph);
    model.setInitialModel(path); // where the graph came from, for messages and metadata
    if (inputShape != null) {
      model.setInputShape(inputShape);
    }
    return model;
  }

  @Override
  public String uid() {
    if (uid == null) {
      uid = PendingUid.take(PREFIX);
    }
    return uid;
  }

  @Override
  public EmberParamSet emberParamSet() {
    return emberParams;
  }

  @Override
  public byte[] weights() {
    return weights;
  }

  @Override
  public int numOutputs() {
    return numClasses;
  }

  @Override
  public TrainingSummary summaryOrNull() {
    return null;
  }

  @Override
  public byte[] onnxGraph() {
    return onnxGraph;
  }

  @Override
  public int numClasses() {
    return numClasses;
  }

  @Override
  public int numFeatures() {
    return NetworkDefinition.of(this).inputSize();
  }

  @Override
  public StructType transformSchema(StructType schema) {
    return StageSchemas.classifierOutput(
        schema, getFeaturesCol(), getRawPredictionCol(), getProbabilityCol(), getPredictionCol());
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    double[] thresholds = isDefined(thresholds()) ? getThresholds() : null;
    BatchInference inference =
        BatchInference.classifier(
            this,
            !getRawPredictionCol().isEmpty(),
            !getProbabilityCol().isEmpty(),
            !getPredictionCol().isEmpty(),
            thresholds);
    return inference.transform(dataset, getFeaturesCol(), out, weights);
  }

  /** The graph's output for one example, on the driver (for single-row use; prefer transform). */
  @Override
  public Vector predictRaw(Vector features) {
    return Vectors.dense(LocalPredictor.forward(this, features));
  }

  /** Spark's argmax, except that NaN logits (handleInvalid=keep) predict NaN, not class 0. */
  @Override
  public double raw2prediction(Vector rawPrediction) {
    return ClassifierVectors.hasNaN(rawPrediction)
        ? Double.NaN
        : super.raw2prediction(rawPrediction);
  }

  /** Spark's thresholded argmax, except that NaN probabilities predict NaN, not class 0. */
  @Override
  public double probability2prediction(Vector probability) {
    return ClassifierVectors.hasNaN(probability)
        ? Double.NaN
        : super.probability2prediction(probability);
  }

  @Override
  public Vector raw2probabilityInPlace(Vector rawPrediction) {
    return ClassifierVectors.softmaxInPlace(rawPrediction);
  }

  /** See {@link EmberClassificationModel#findSummaryModel()}. */
  @Override
  @SuppressWarnings({"rawtypes", "unchecked"})
  public scala.Tuple3 findSummaryModel() {
    return super.findSummaryModel();
  }

  /** Writes the graph with this model's weights as an ONNX file at {@code path}. */
  public void exportOnnx(String path) throws java.io.IOException {
    ModelExport.exportOnnx(this, java.nio.file.Path.of(path));
  }

  @Override
  public EmberOnnxModel copy(ParamMap extra) {
    EmberOnnxModel copy = new EmberOnnxModel(uid(), weights, numClasses, null, onnxGraph);
    return copyValues(copy, extra).setParent(parent());
  }

  @Override
  public MLWriter write() {
    return ModelIO.writer(this);
  }

  public static MLReader<EmberOnnxModel> read() {
    return ModelIO.reader(EmberOnnxModel.class, EmberOnnxModel::new);
  }

  public static EmberOnnxModel load(String path) {
    return read().load(path);
  }

  @Override
  public String toString() {
    return "EmberOnnxModel: uid="
        + uid()
        + ", numClasses="
        + numClasses
        + ", network="
        + NetworkDefinition.of(this);
  }
}
