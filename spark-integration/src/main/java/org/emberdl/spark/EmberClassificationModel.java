package org.emberdl.spark;

import org.apache.spark.ml.classification.ProbabilisticClassificationModel;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.emberdl.spark.internal.infer.BatchInference;
import org.emberdl.spark.internal.infer.ClassifierVectors;
import org.emberdl.spark.internal.infer.LocalPredictor;
import org.emberdl.spark.internal.io.EmberModel;
import org.emberdl.spark.internal.io.ModelExport;
import org.emberdl.spark.internal.io.ModelIO;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.plan.EmberParamSet;
import org.emberdl.spark.internal.plan.PendingUid;
import org.emberdl.spark.internal.plan.StageSchemas;

/**
 * A trained Ember classifier: {@code transform} scores any DataFrame in batched forward passes on
 * the executors and appends {@code rawPrediction} (logits), {@code probability} (softmax) and
 * {@code prediction}, like Spark's probabilistic classifiers. Saved with {@code write().save(path)}
 * as Spark ML metadata plus safetensors weights.
 */
public class EmberClassificationModel
    extends ProbabilisticClassificationModel<Vector, EmberClassificationModel>
    implements EmberModel<EmberClassificationModel>, MLWritable {
  private static final long serialVersionUID = 1L;
  private static final String PREFIX = "emberClassificationModel";

  private String uid; // assigned by the first uid() call, during the superclass constructor
  private final EmberParamSet emberParams;
  private final byte[] weights;
  private final int numClasses;
  private final TrainingSummary summary;
  private final byte[] onnxGraph; // null unless the network is an ONNX graph

  EmberClassificationModel(String uid, byte[] weights, int numClasses, TrainingSummary summary) {
    this(uid, weights, numClasses, summary, null);
  }

  EmberClassificationModel(
      String uid, byte[] weights, int numClasses, TrainingSummary summary, byte[] onnxGraph) {
    this(PendingUid.set(uid), weights, numClasses, summary, onnxGraph);
  }

  private EmberClassificationModel(
      PendingUid.Token token,
      byte[] weights,
      int numClasses,
      TrainingSummary summary,
      byte[] onnxGraph) {
    super();
    this.emberParams = new EmberParamSet(this);
    this.weights = weights;
    this.numClasses = numClasses;
    this.summary = summary;
    this.onnxGraph = onnxGraph;
    initEmberDefaults();
    setDefault(emberParams.loss, "cross_entropy");
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
    return summary;
  }

  @Override
  public byte[] onnxGraph() {
    return onnxGraph;
  }

  /**
   * Writes the network with these weights as an ONNX model at {@code path} (replacing it): input
   * {@code "input"} of shape (batch, inputShape...), output {@code "output"}, a dynamic batch dim;
   * initializers are named by the state-dict keys. A network fine-tuned from an ONNX model is its
   * graph with the new weights.
   *
   * @throws IllegalArgumentException naming the module's path and class when a layer has no ONNX
   *     mapping (nothing is written then)
   */
  public void exportOnnx(String path) throws java.io.IOException {
    ModelExport.exportOnnx(this, java.nio.file.Path.of(path));
  }

  /** Whether {@link #trainingSummary()} is available. */
  public boolean hasSummary() {
    return summary != null;
  }

  /**
   * Per-epoch loss, accuracy and throughput of the fit that produced this model.
   *
   * @throws IllegalStateException when the model has none
   */
  public TrainingSummary trainingSummary() {
    if (summary == null) {
      throw new IllegalStateException("this model has no training summary");
    }
    return summary;
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

  /** The logits of one example, computed on the driver (for single-row use; prefer transform). */
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

  /**
   * Spark's hook for its own classifiers' training summaries, inherited from two Scala classes
   * whose covariant return types Java cannot unify, hence the raw type.
   */
  @Override
  @SuppressWarnings({"rawtypes", "unchecked"})
  public scala.Tuple3 findSummaryModel() {
    return super.findSummaryModel();
  }

  @Override
  public EmberClassificationModel copy(ParamMap extra) {
    EmberClassificationModel copy =
        new EmberClassificationModel(uid(), weights, numClasses, summary, onnxGraph);
    return copyValues(copy, extra).setParent(parent());
  }

  @Override
  public MLWriter write() {
    return ModelIO.writer(this);
  }

  public static MLReader<EmberClassificationModel> read() {
    return ModelIO.reader(EmberClassificationModel.class, EmberClassificationModel::new);
  }

  public static EmberClassificationModel load(String path) {
    return read().load(path);
  }

  @Override
  public String toString() {
    return "EmberClassificationModel: uid="
        + uid()
        + ", numClasses="
        + numClasses
        + ", network="
        + NetworkDefinition.of(this);
  }
}
