package org.emberdl.spark;

import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.regression.RegressionModel;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.emberdl.spark.internal.infer.BatchInference;
import org.emberdl.spark.internal.infer.LocalPredictor;
import org.emberdl.spark.internal.io.EmberModel;
import org.emberdl.spark.internal.io.ModelExport;
import org.emberdl.spark.internal.io.ModelIO;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.plan.EmberParamSet;
import org.emberdl.spark.internal.plan.PendingUid;
import org.emberdl.spark.internal.plan.StageSchemas;

/** A trained Ember regressor: batched {@code transform} appends {@code prediction}. */
public class EmberRegressionModel extends RegressionModel<Vector, EmberRegressionModel>
    implements EmberModel<EmberRegressionModel>, MLWritable {
  private static final long serialVersionUID = 1L;
  private static final String PREFIX = "emberRegressionModel";

  private String uid; // assigned by the first uid() call, during the superclass constructor
  private final EmberParamSet emberParams;
  private final byte[] weights;
  private final int numOutputs;
  private final TrainingSummary summary;
  private final byte[] onnxGraph; // null unless the network is an ONNX graph

  EmberRegressionModel(String uid, byte[] weights, int numOutputs, TrainingSummary summary) {
    this(uid, weights, numOutputs, summary, null);
  }

  EmberRegressionModel(
      String uid, byte[] weights, int numOutputs, TrainingSummary summary, byte[] onnxGraph) {
    this(PendingUid.set(uid), weights, numOutputs, summary, onnxGraph);
  }

  private EmberRegressionModel(
      PendingUid.Token token,
      byte[] weights,
      int numOutputs,
      TrainingSummary summary,
      byte[] onnxGraph) {
    super();
    this.emberParams = new EmberParamSet(this);
    this.weights = weights;
    this.numOutputs = numOutputs;
    this.summary = summary;
    this.onnxGraph = onnxGraph;
    initEmberDefaults();
    setDefault(emberParams.loss, "mse");
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
    return numOutputs;
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

  public boolean hasSummary() {
    return summary != null;
  }

  /**
   * Per-epoch loss and throughput of the fit that produced this model.
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
  public int numFeatures() {
    return NetworkDefinition.of(this).inputSize();
  }

  @Override
  public StructType transformSchema(StructType schema) {
    return StageSchemas.regressorOutput(schema, getFeaturesCol(), getPredictionCol());
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    if (getPredictionCol().isEmpty()) {
      return dataset.toDF();
    }
    BatchInference inference = BatchInference.regressor(this);
    return inference.transform(dataset, getFeaturesCol(), out, weights);
  }

  /** One example's prediction, on the driver (prefer transform for many). */
  @Override
  public double predict(Vector features) {
    return LocalPredictor.forward(this, features)[0];
  }

  @Override
  public EmberRegressionModel copy(ParamMap extra) {
    EmberRegressionModel copy =
        new EmberRegressionModel(uid(), weights, numOutputs, summary, onnxGraph);
    return copyValues(copy, extra).setParent(parent());
  }

  @Override
  public MLWriter write() {
    return ModelIO.writer(this);
  }

  public static MLReader<EmberRegressionModel> read() {
    return ModelIO.reader(EmberRegressionModel.class, EmberRegressionModel::new);
  }

  public static EmberRegressionModel load(String path) {
    return read().load(path);
  }
}
