package org.emberdl.spark.internal.infer;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.function.Supplier;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.StructType;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.data.FeatureColumn;
import org.emberdl.spark.internal.data.RowCursor;
import org.emberdl.spark.internal.data.SparkInternals;
import org.emberdl.spark.internal.io.EmberModel;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.plan.DeviceChoice;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code transform} for Ember models: batched forward passes per partition on the executors'
 * engines, reading features straight from the column vectors of Spark's vectorized reader where the
 * plan is a bare columnar scan ({@link #columnarSource}), else from Catalyst rows, and appending
 * the output columns.
 *
 * <p>Each partition borrows a replica of the network (weights loaded once per executor from a
 * broadcast of the safetensors bytes), fills {@code inferenceBatchSize} rows' features into one
 * buffer, runs one forward pass in eval mode without gradients, and emits the input rows joined
 * with their outputs. Invalid rows follow {@code handleInvalid}: error, skip, or keep (NaN
 * outputs). A row is invalid when its features are (null, wrong size, non-finite, a sparse index
 * out of place) or when the network's outputs for it are not finite: NaN logits must never become a
 * confident class 0.
 */
public final class BatchInference implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(BatchInference.class);

  /** What the output columns are. */
  enum Output {
    CLASSIFIER,
    REGRESSOR
  }

  /** The values of {@code handleInvalid}, as Spark's feature transformers define them. */
  enum Invalid {
    /** Fail naming the row. */
    ERROR,
    /** Drop the row. */
    SKIP,
    /** Keep the row with every output column NaN. */
    KEEP;

    static Invalid of(String handleInvalid) {
      return valueOf(handleInvalid.toUpperCase(Locale.ROOT));
    }
  }

  private final NetworkDefinition network;
  private final String modelUid;
  private final String replicaKey;
  private final int numOutputs;
  private final Output output;
  private final boolean withRaw;
  private final boolean withProbability;
  private final boolean withPrediction;
  private final double[] thresholds;
  private final int batchSize;
  private final Invalid invalid;
  private final DeviceChoice device;

  private BatchInference(
      EmberModel<?> model,
      Output output,
      boolean withRaw,
      boolean withProbability,
      boolean withPrediction,
      double[] thresholds) {
    this.network = NetworkDefinition.of(model);
    this.modelUid = model.uid();
    this.replicaKey = EmberModel.replicaKey(model.uid(), model.weights());
    this.numOutputs = model.numOutputs();
    this.output = output;
    this.withRaw = withRaw;
    this.withProbability = withProbability;
    this.withPrediction = withPrediction;
    this.thresholds = thresholds == null ? null : thresholds.clone();
    this.batchSize = model.getInferenceBatchSize();
    this.invalid = Invalid.of(model.getHandleInvalid());
    this.device = DeviceChoice.of(model.getDevice());
  }

  /** Scores {@code model}'s regression output, one prediction column. */
  public static BatchInference regressor(EmberModel<?> model) {
    return new BatchInference(model, Output.REGRESSOR, false, false, true, null);
  }

  /**
   * Scores {@code model}'s classes.
   *
   * @param thresholds Spark's {@code thresholds} (prediction = argmax of p_k / t_k), or null
   * @throws IllegalArgumentException when there is not one threshold per class
   */
  public static BatchInference classifier(
      EmberModel<?> model,
      boolean withRaw,
      boolean withProbability,
      boolean withPrediction,
      double[] thresholds) {
    if (thresholds != null && thresholds.length != model.numOutputs()) {
      // Spark's ProbabilisticClassificationModel.transform makes the same check.
      throw new IllegalArgumentException(
          "thresholds has "
              + thresholds.length
              + " values but model '"
              + model.uid()
              + "' has "
              + model.numOutputs()
              + " classes; give one threshold per class");
    }
    return new BatchInference(
        model, Output.CLASSIFIER, withRaw, withProbability, withPrediction, thresholds);
  }

  /** {@code df} with the output columns of {@code outputSchema} appended. */
  public Dataset<Row> transform(
      Dataset<?> df, String featuresCol, StructType outputSchema, byte[] weights) {
    SparkSession spark = df.sparkSession();
    FeatureColumn features =
        FeatureColumn.of(df.schema(), featuresCol, network.inputSize(), network.tokenInput());
    int ordinal = df.schema().fieldIndex(featuresCol);
    Broadcast<byte[]> bc =
        JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(weights);
    BatchInference self = this;
    SparkInternals.Columnar columnar = columnarSource(df, features);
    JavaRDD<InternalRow> rows;
    if (columnar != null) {
      int[] ordinals = columnar.ordinals();
      rows =
          columnar
              .batches()
              .toJavaRDD()
              .mapPartitionsWithIndex(
                  (partition, it) ->
                      self.run(RowCursor.batches(it, features, ordinals, ordinal), bc, partition),
                  true);
    } else {
      rows =
          SparkInternals.internalRows(df)
              .toJavaRDD()
              .mapPartitionsWithIndex(
                  (partition, it) -> self.run(RowCursor.rows(it, features, ordinal), bc, partition),
                  true);
    }
    return SparkInternals.createDataFrame(spark, rows.rdd(), outputSchema);
  }

  /**
   * The columnar batches to score, or null for the row path: features of {@code array<float>} or
   * {@code array<double>}, every column of a type whose batch rows are passed on, and a plan whose
   * columnar source yields exactly the DataFrame's columns (each output row is an input row with
   * the outputs appended).
   */
  public static SparkInternals.Columnar columnarSource(Dataset<?> df, FeatureColumn features) {
    if (!features.readsColumnar()) {
      LOG.debug("transform reads rows: features column '{}' is a vector", features.name());
      return null;
    }
    if (!SparkInternals.batchRowsSupported(df.schema())) {
      LOG.debug("transform reads rows: a column of {} is nested", df.schema().simpleString());
      return null;
    }
    SparkInternals.Columnar columnar = SparkInternals.columnar(df);
    if (columnar != null && !columnar.sameColumns()) {
      LOG.debug("transform reads rows: the columnar source's columns are not the DataFrame's");
      return null;
    }
    return columnar;
  }

  private Iterator<InternalRow> run(RowCursor input, Broadcast<byte[]> weights, int partition) {
    ExecutorEngine engine = ExecutorEngine.get();
    engine.enterTask(device);
    return new BatchIterator(input, engine, () -> newReplica(network, weights.value()), partition);
  }

  /** {@code network} with {@code weights} loaded, in eval mode. */
  public static Module newReplica(NetworkDefinition network, byte[] weights) {
    Module m = network.build(new Generator(0));
    try (Safetensors.SafetensorsFile f = Safetensors.read(weights)) {
      m.loadStateDict(f.tensors(), true);
    } catch (org.emberdl.tensor.io.SafetensorsFormatException e) {
      m.close();
      throw new IllegalArgumentException("the model's weights are not valid safetensors", e);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
    m.eval();
    return m;
  }

  /**
   * The index of the first NaN or infinite value of {@code a[from, to)}, or -1. One branch-light
   * pass over a primitive array, so checking every batch costs next to nothing beside the forward.
   */
  static int firstNonFinite(float[] a, int from, int to) {
    for (int i = from; i < to; i++) {
      float x = a[i];
      if (x - x != 0f) { // NaN - NaN and inf - inf are NaN; every finite x gives 0
        return i;
      }
    }
    return -1;
  }

  /** The message of a row whose outputs are not finite. */
  static String nonFiniteOutput(String modelUid, String where, int output, float value) {
    return "model '"
        + modelUid
        + "' gave a non-finite output for "
        + where
        + ": output "
        + output
        + " is "
        + value
        + " (its weights contain NaN or infinity, or the features overflow the network)";
  }

  /** Pulls one batch of rows at a time, scores it, and hands out the joined rows. */
  private final class BatchIterator implements Iterator<InternalRow> {
    private final RowCursor input;
    private final ExecutorEngine engine;
    private final Supplier<Module> build;
    private final int partition;
    private final int dim;
    private final float[] buffer;
    private final long[] rowOfValid; // the partition row index of each scored row
    private final List<InternalRow> pending = new ArrayList<>();
    private final List<InternalRow> outputs = new ArrayList<>();
    private int[] keptInvalid = new int[8]; // positions in pending of kept invalid inputs
    private int keptCount;
    private int next;
    private long rowIndex;
    private long droppedForOutputs;

    BatchIterator(RowCursor input, ExecutorEngine engine, Supplier<Module> build, int partition) {
      this.input = input;
      this.engine = engine;
      this.build = build;
      this.partition = partition;
      this.dim = network.inputSize();
      this.buffer = new float[batchSize * dim];
      this.rowOfValid = new long[batchSize];
    }

    @Override
    public boolean hasNext() {
      if (next < outputs.size()) {
        return true;
      }
      outputs.clear();
      next = 0;
      // a batch whose rows were all skipped yields nothing, but more input may follow
      while (outputs.isEmpty() && input.hasNext()) {
        fill();
      }
      if (outputs.isEmpty() && droppedForOutputs > 0) {
        LOG.warn(
            "model '{}' gave non-finite outputs for {} rows of partition {}; handleInvalid=skip"
                + " dropped them",
            modelUid,
            droppedForOutputs,
            partition);
        droppedForOutputs = 0;
      }
      return !outputs.isEmpty();
    }

    @Override
    public InternalRow next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return outputs.get(next++);
    }

    /** Reads up to a batch of valid rows (and any kept invalid ones) and scores them. */
    private void fill() {
      pending.clear();
      keptCount = 0;
      int valid = 0;
      int copied = 0; // pending rows [0, copied) are copies, the rest views of the reader's batch
      while (valid < batchSize) {
        if (input.lastInBatch()) {
          // The reader refills its vectors for the next rows: rows of this forward batch viewed
          // in them are copied first. (Cutting the forward batch there instead would change which
          // rows share a forward pass, and with it the last bits of their outputs.)
          for (; copied < pending.size(); copied++) {
            pending.set(copied, pending.get(copied).copy());
          }
        }
        if (!input.hasNext()) {
          break;
        }
        input.advance();
        long at = rowIndex++;
        String problem = input.copyFeatures(buffer, valid * dim);
        if (problem != null) {
          switch (invalid) {
            case SKIP -> {
              continue;
            }
            case KEEP -> {
              keepInvalid(pending.size());
              pending.add(input.keepRow());
              continue;
            }
            case ERROR ->
                throw new IllegalArgumentException(input.invalidRow(problem, partition, at));
          }
        }
        rowOfValid[valid] = at;
        pending.add(input.keepValidRow(buffer, valid * dim));
        valid++;
      }
      if (pending.isEmpty()) {
        return;
      }
      float[] scores = valid == 0 ? new float[0] : score(valid);
      boolean allFinite = firstNonFinite(scores, 0, scores.length) < 0;
      int v = 0;
      int k = 0;
      for (int i = 0; i < pending.size(); i++) {
        if (k < keptCount && keptInvalid[k] == i) {
          k++;
          outputs.add(SparkInternals.appended(pending.get(i), nanValues()));
          continue;
        }
        int at = v * numOutputs;
        long row = rowOfValid[v++];
        int bad = allFinite ? -1 : firstNonFinite(scores, at, at + numOutputs);
        if (bad >= 0) {
          switch (invalid) {
            case ERROR ->
                throw new IllegalStateException(
                    nonFiniteOutput(
                            modelUid,
                            "row " + row + " of partition " + partition,
                            bad - at,
                            scores[bad])
                        + "; set handleInvalid to 'skip' to drop such rows or 'keep' to output"
                        + " NaN");
            case SKIP -> {
              droppedForOutputs++;
              continue;
            }
            case KEEP -> {
              outputs.add(SparkInternals.appended(pending.get(i), nanValues()));
              continue;
            }
          }
        }
        outputs.add(SparkInternals.appended(pending.get(i), outputValues(scores, at)));
      }
    }

    private void keepInvalid(int position) {
      if (keptCount == keptInvalid.length) {
        keptInvalid = Arrays.copyOf(keptInvalid, keptCount * 2);
      }
      keptInvalid[keptCount++] = position;
    }

    /** The network's outputs for the first {@code n} rows of the buffer, row-major. */
    private float[] score(int n) {
      Module model = engine.borrow(replicaKey, build);
      float[] out;
      try (NoGrad ng = NoGrad.enter();
          MemoryScope scope = MemoryScope.open()) {
        int[] shape = new int[network.inputShape().length + 1];
        shape[0] = n;
        System.arraycopy(network.inputShape(), 0, shape, 1, shape.length - 1);
        NDArray x = NDArray.ofFirst(buffer, n * dim, shape);
        out = model.forward(Tensor.of(x)).data().toFloatArray();
      } catch (org.apache.arrow.memory.OutOfMemoryException e) {
        throw engine.batchOverBudget(n, "inferenceBatchSize", e);
      } finally {
        engine.giveBack(replicaKey, model);
      }
      if (out.length != (long) n * numOutputs) {
        throw new IllegalStateException(
            "model '"
                + modelUid
                + "' declares "
                + numOutputs
                + " outputs per row but its network gave "
                + out.length
                + " values for "
                + n
                + " rows");
      }
      return out;
    }
  }

  /** The output columns of a row with finite outputs {@code scores[at, at + numOutputs)}. */
  private Object[] outputValues(float[] scores, int at) {
    if (output == Output.REGRESSOR) {
      return new Object[] {(double) scores[at]};
    }
    double[] raw = new double[numOutputs];
    double[] prob = new double[numOutputs];
    softmax(scores, at, numOutputs, raw, prob);
    return classifierValues(raw, prob, predict(prob));
  }

  /** The output columns of a kept invalid row: every value NaN. */
  private Object[] nanValues() {
    if (output == Output.REGRESSOR) {
      return new Object[] {Double.NaN};
    }
    double[] nan = new double[numOutputs];
    Arrays.fill(nan, Double.NaN);
    return classifierValues(nan, nan, Double.NaN);
  }

  private Object[] classifierValues(double[] raw, double[] prob, double prediction) {
    List<Object> values = new ArrayList<>(3);
    if (withRaw) {
      values.add(SparkInternals.denseVector(raw));
    }
    if (withProbability) {
      values.add(SparkInternals.denseVector(prob));
    }
    if (withPrediction) {
      values.add(prediction);
    }
    return values.toArray();
  }

  /** Softmax in double precision, max-shifted. */
  public static void softmax(float[] logits, int at, int width, double[] raw, double[] prob) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < width; j++) {
      raw[j] = logits[at + j];
      max = Math.max(max, raw[j]);
    }
    double sum = 0;
    for (int j = 0; j < width; j++) {
      prob[j] = Math.exp(raw[j] - max);
      sum += prob[j];
    }
    for (int j = 0; j < width; j++) {
      prob[j] /= sum;
    }
  }

  /**
   * Argmax of the probabilities, divided by the thresholds when set, as Spark's {@code
   * ProbabilisticClassificationModel.probability2prediction}: the first maximum wins a tie, and a
   * class whose threshold is 0 is predicted whenever its probability is positive. NaN when a
   * probability is NaN, never class 0 by default.
   */
  double predict(double[] prob) {
    return predict(prob, thresholds);
  }

  static double predict(double[] prob, double[] thresholds) {
    int best = 0;
    double bestScore = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < prob.length; j++) {
      if (Double.isNaN(prob[j])) {
        return Double.NaN;
      }
      double s = thresholds == null ? prob[j] : prob[j] / thresholds[j];
      if (s > bestScore) {
        bestScore = s;
        best = j;
      }
    }
    return best;
  }
}
