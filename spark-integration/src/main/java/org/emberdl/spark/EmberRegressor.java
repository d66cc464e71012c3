package org.emberdl.spark;

import org.apache.spark.ml.Predictor;
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
 * Trains a neural network regressor (one real output, mean squared error) on a DataFrame, as a
 * Spark ML {@code Estimator}; the same Params and training rounds as {@link EmberClassifier}.
 */
public class EmberRegressor extends Predictor<Vector, EmberRegressor, EmberRegressionModel>
    implements EmberParams<EmberRegressor>, DefaultParamsWritable {
  private static final long serialVersionUID = 1L;
  private static final String PREFIX = "emberRegressor";

  private String uid; // assigned by the first uid() call, during the superclass constructor
  private final EmberParamSet emberParams;
  // Not a Param: code can be neither serialized nor saved (see ProgressListener).
  private transient ProgressListener progressListener;

  public EmberRegressor() {
    this(Identifiable.randomUID(PREFIX));
  }

  public EmberRegressor(String uid) {
    this(PendingUid.set(uid));
  }

  private EmberRegressor(PendingUid.Token token) {
    super();
    emberParams = new EmberParamSet(this);
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
  public StructType transformSchema(StructType schema) {
    return StageSchemas.regressorOutput(schema, getFeaturesCol(), getPredictionCol());
  }

  /** Checks the label column (naming it) before Spark's {@code Predictor.fit} casts it. */
  @Override
  public EmberRegressionModel fit(Dataset<?> dataset) {
    StageSchemas.checkLabel(dataset.schema(), getLabelCol());
    return super.fit(dataset);
  }

  @Override
  public EmberRegressionModel train(Dataset<?> dataset) {
    if (!getLoss().equals(TaskKind.REGRESSION.lossName())) {
      throw new IllegalArgumentException("EmberRegressor trains with loss mse, not " + getLoss());
    }
    Coordinator.Result r =
        Coordinator.fit(
            dataset, this, TaskKind.REGRESSION, getFeaturesCol(), getLabelCol(), progressListener);
    return new EmberRegressionModel(uid(), r.weights(), r.numOutputs(), r.summary(), r.onnxGraph());
  }

  @Override
  public EmberRegressor copy(ParamMap extra) {
    EmberRegressor copy = defaultCopy(extra);
    copy.progressListener = progressListener; // so Pipeline and CrossValidator fits report too
    return copy;
  }

  /**
   * Receives this estimator's (and its copies') progress on the driver during {@code fit}; null for
   * none (the default). Not a Param, so not saved with the estimator: see {@link ProgressListener}.
   */
  public EmberRegressor setProgressListener(ProgressListener listener) {
    this.progressListener = listener;
    return this;
  }

  /** The listener set by {@link #setProgressListener}, or null. */
  public ProgressListener getProgressListener() {
    return progressListener;
  }

  public static MLReader<EmberRegressor> read() {
    return new DefaultParamsReader<>();
  }

  public static EmberRegressor load(String path) {
    return read().load(path);
  }
}
