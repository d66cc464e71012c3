package org.emberdl.spark;

import org.apache.spark.ml.classification.ProbabilisticClassifier;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.types.StructType;
import org.emberdl.spark.internal.plan.EmberParamSet;
import org.emberdl.spark.internal.plan.PendingUid;
import org.emberdl.spark.internal.plan.StageSchemas;
import org.emberdl.spark.internal.plan.TaskKind;
import org.emberdl.spark.internal.train.Coordinator;

/**
 * Trains a neural network classifier on a DataFrame, as a Spark ML {@code Estimator}: features in
 * {@code featuresCol} (a {@code Vector}, {@code array<float>} or {@code array<double>}), class
 * indices 0..C-1 in {@code labelCol}. Works in {@code Pipeline}, {@code CrossValidator} and {@code
 * TrainValidationSplit} like Spark's own classifiers.
 *
 * <pre>{@code
 * EmberClassifier clf = new EmberClassifier()
 *     .setLayers(new int[] {784, 256, 128, 10})
 *     .setBatchSize(128).setMaxEpochs(5).setLearningRate(1e-3).setSeed(42);
 * EmberClassificationModel model = clf.fit(train);
 * model.transform(test).select("prediction", "probability");
 * }</pre>
 *
 * <p>Training runs on the executors in synchronous rounds (see {@link EmberParams} for every
 * setting): each round, every partition computes the gradient of its share of a global batch of
 * {@code batchSize} rows, the driver averages them and takes one optimizer step. Given the same
 * data, partitioning and seed, the result is the same bit for bit.
 */
public class EmberClassifier
    extends ProbabilisticClassifier<Vector, EmberClassifier, EmberClassificationModel>
    implements EmberParams<EmberClassifier>, DefaultParamsWritable {
  private static final long serialVersionUID = 1L;
  private static final String PREFIX = "emberClassifier";

  private String uid; // assigned by the first uid() call, during the superclass constructor
  private final EmberParamSet emberParams;
  // Not a Param: code can be neither serialized nor saved (see ProgressListener).
  private transient ProgressListener progressListener;

  public EmberClassifier() {
    this(Identifiable.randomUID(PREFIX));
  }

  public EmberClassifier(String uid) {
    this(PendingUid.set(uid));
  }

  private EmberClassifier(PendingUid.Token token) {
    super();
    emberParams = new EmberParamSet(this);
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
  public StructType transformSchema(StructType schema) {
    return StageSchemas.classifierOutput(
        schema, getFeaturesCol(), getRawPredictionCol(), getProbabilityCol(), getPredictionCol());
  }

  /** Checks the label column (naming it) before Spark's {@code Predictor.fit} casts it. */
  @Override
  public EmberClassificationModel fit(Dataset<?> dataset) {
    StageSchemas.checkLabel(dataset.schema(), getLabelCol());
    return super.fit(dataset);
  }

  @Override
  public EmberClassificationModel train(Dataset<?> dataset) {
    if (!getLoss().equals(TaskKind.CLASSIFICATION.lossName())) {
      throw new IllegalArgumentException(
          "EmberClassifier trains with loss cross_entropy, not " + getLoss());
    }
    Coordinator.Result r =
        Coordinator.fit(
            dataset,
            this,
            TaskKind.CLASSIFICATION,
            getFeaturesCol(),
            getLabelCol(),
            progressListener);
    return new EmberClassificationModel(
        uid(), r.weights(), r.numOutputs(), r.summary(), r.onnxGraph());
  }

  @Override
  public EmberClassifier copy(ParamMap extra) {
    EmberClassifier copy = defaultCopy(extra);
    copy.progressListener = progressListener; // so Pipeline and CrossValidator fits report too
    return copy;
  }

  /**
   * Receives this estimator's (and its copies') progress on the driver during {@code fit}; null for
   * none (the default). Not a Param, so not saved with the estimator: see {@link ProgressListener}.
   */
  public EmberClassifier setProgressListener(ProgressListener listener) {
    this.progressListener = listener;
    return this;
  }

  /** The listener set by {@link #setProgressListener}, or null. */
  public ProgressListener getProgressListener() {
    return progressListener;
  }

  public static MLReader<EmberClassifier> read() {
    return new DefaultParamsReader<>();
  }

  public static EmberClassifier load(String path) {
    return read().load(path);
  }
}
