package org.emberdl.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
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
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;

/**
 * {@code transform} for Ember models: batched forward passes per partition on the executors'
 * engines, reading features straight from Catalyst rows and appending the output columns.
 *
 * <p>Each partition borrows a replica of the network (weights loaded once per executor from a
 * broadcast of the safetensors bytes), fills {@code inferenceBatchSize} rows' features into one
 * buffer, runs one forward pass in eval mode without gradients, and emits the input rows joined
 * with their outputs. Invalid rows follow {@code handleInvalid}: error, skip, or keep (NaN
 * outputs).
 */
final class BatchInference implements Serializable {
  private static final long serialVersionUID = 1L;

  /** What the output columns are. */
  enum Output {
    CLASSIFIER,
    REGRESSOR
  }

  private final NetworkDefinition network;
  private final String replicaKey;
  private final Output output;
  private final boolean withRaw;
  private final boolean withProbability;
  private final boolean withPrediction;
  private final double[] thresholds;
  private final int batchSize;
  private final String handleInvalid;

  BatchInference(
      NetworkDefinition network,
      String replicaKey,
      Output output,
      boolean withRaw,
      boolean withProbability,
      boolean withPrediction,
      double[] thresholds,
      int batchSize,
      String handleInvalid) {
    this.network = network;
    this.replicaKey = replicaKey;
    this.output = output;
    this.withRaw = withRaw;
    this.withProbability = withProbability;
    this.withPrediction = withPrediction;
    this.thresholds = thresholds;
    this.batchSize = batchSize;
    this.handleInvalid = handleInvalid;
  }

  /** {@code df} with the output columns of {@code outputSchema} appended. */
  Dataset<Row> transform(
      Dataset<?> df, String featuresCol, StructType outputSchema, byte[] weights) {
    SparkSession spark = df.sparkSession();
    FeatureColumn features = FeatureColumn.of(df.schema(), featuresCol, network.inputSize());
    int ordinal = df.schema().fieldIndex(featuresCol);
    Broadcast<byte[]> bc =
        JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(weights);
    BatchInference self = this;
    var rows =
        SparkInternals.internalRows(df)
            .toJavaRDD()
            .mapPartitionsWithIndex(
                (partition, it) -> self.run(it, features, ordinal, bc, partition), true);
    return SparkInternals.createDataFrame(spark, rows.rdd(), outputSchema);
  }

  private Iterator<InternalRow> run(
      Iterator<InternalRow> input,
      FeatureColumn features,
      int ordinal,
      Broadcast<byte[]> weights,
      int partition) {
    ExecutorEngine engine = ExecutorEngine.get();
    engine.enterTask();
    return new BatchIterator(
        input, features, ordinal, engine, () -> newReplica(weights.value()), partition);
  }

  Module newReplica(byte[] weights) {
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

  /** Pulls one batch of rows at a time, scores it, and hands out the joined rows. */
  private final class BatchIterator implements Iterator<InternalRow> {
    private final Iterator<InternalRow> input;
    private final FeatureColumn features;
    private final int ordinal;
    private final ExecutorEngine engine;
    private final java.util.function.Supplier<Module> build;
    private final int partition;
    private final int dim;
    private final float[] buffer;
    private final List<InternalRow> pending = new ArrayList<>();
    private final List<InternalRow> outputs = new ArrayList<>();
    private int next;
    private long rowIndex;

    BatchIterator(
        Iterator<InternalRow> input,
        FeatureColumn features,
        int ordinal,
        ExecutorEngine engine,
        java.util.function.Supplier<Module> build,
        int partition) {
      this.input = input;
      this.features = features;
      this.ordinal = ordinal;
      this.engine = engine;
      this.build = build;
      this.partition = partition;
      this.dim = features.size();
      this.buffer = new float[batchSize * dim];
    }

    @Override
    public boolean hasNext() {
      if (next < outputs.size()) {
        return true;
      }
      outputs.clear();
      next = 0;
      fill();
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
      List<Integer> invalidAt = new ArrayList<>();
      int valid = 0;
      while (valid < batchSize && input.hasNext()) {
        InternalRow row = input.next();
        long at = rowIndex++;
        String problem = features.copy(row, ordinal, buffer, valid * dim);
        if (problem != null) {
          switch (handleInvalid) {
            case "skip" -> {
              continue;
            }
            case "keep" -> {
              invalidAt.add(pending.size());
              pending.add(row.copy());
              continue;
            }
            default ->
                throw new IllegalArgumentException(features.invalidRow(problem, partition, at));
          }
        }
        pending.add(row.copy());
        valid++;
      }
      if (pending.isEmpty()) {
        return;
      }
      float[] scores = valid == 0 ? new float[0] : score(valid);
      int width = valid == 0 ? 0 : scores.length / valid;
      int v = 0;
      int k = 0;
      for (int i = 0; i < pending.size(); i++) {
        boolean invalid = k < invalidAt.size() && invalidAt.get(k) == i;
        if (invalid) {
          k++;
          outputs.add(
              SparkInternals.appended(pending.get(i), outputValues(null, 0, Math.max(width, 1))));
        } else {
          outputs.add(
              SparkInternals.appended(pending.get(i), outputValues(scores, v++ * width, width)));
        }
      }
    }

    /** The network's outputs for the first {@code n} rows of the buffer, row-major. */
    private float[] score(int n) {
      Module model = engine.borrow(replicaKey, build);
      try (NoGrad ng = NoGrad.enter();
          MemoryScope scope = MemoryScope.open()) {
        int[] shape = new int[network.inputShape().length + 1];
        shape[0] = n;
        System.arraycopy(network.inputShape(), 0, shape, 1, shape.length - 1);
        NDArray x = NDArray.of(java.util.Arrays.copyOf(buffer, n * dim), shape);
        Tensor out = model.forward(Tensor.of(x));
        return out.data().toFloatArray();
      } catch (org.apache.arrow.memory.OutOfMemoryException e) {
        throw engine.batchOverBudget(n, "inferenceBatchSize", e);
      } finally {
        engine.giveBack(replicaKey, model);
      }
    }

    /** The output columns of one row; {@code scores == null} for a kept invalid row. */
    private Object[] outputValues(float[] scores, int at, int width) {
      List<Object> values = new ArrayList<>(3);
      if (output == Output.REGRESSOR) {
        values.add(scores == null ? Double.NaN : (double) scores[at]);
        return values.toArray();
      }
      double[] raw = new double[width];
      double[] prob = new double[width];
      if (scores == null) {
        java.util.Arrays.fill(raw, Double.NaN);
        java.util.Arrays.fill(prob, Double.NaN);
      } else {
        softmax(scores, at, width, raw, prob);
      }
      if (withRaw) {
        values.add(SparkInternals.denseVector(raw));
      }
      if (withProbability) {
        values.add(SparkInternals.denseVector(prob));
      }
      if (withPrediction) {
        values.add(scores == null ? Double.NaN : predict(prob));
      }
      return values.toArray();
    }
  }

  /** Softmax in double precision, max-shifted. */
  static void softmax(float[] logits, int at, int width, double[] raw, double[] prob) {
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

  /** Argmax of the probabilities, divided by the thresholds when set (as Spark's classifiers). */
  double predict(double[] prob) {
    int best = 0;
    double bestScore = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < prob.length; j++) {
      double s = thresholds == null ? prob[j] : prob[j] / thresholds[j];
      if (s > bestScore) {
        bestScore = s;
        best = j;
      }
    }
    return best;
  }
}
