package org.emberdl.spark.internal.stage;

import java.io.Serializable;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.apache.spark.Dependency;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import org.apache.spark.rpc.RpcEndpointRef;
import org.emberdl.federated.Aggregator;
import org.emberdl.federated.Update;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.data.SparkInternals;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.StageReduce;
import org.emberdl.spark.internal.train.RoundExecutor;
import org.emberdl.spark.internal.train.TrainingConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Function1;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;

/**
 * The driver's side of {@code executionMode=stage}: each epoch is one Spark barrier stage over the
 * cached partitions ({@link StageTask}), whose tasks send each step's update to an endpoint on the
 * driver's Spark RPC environment ({@link StageEndpoint}). The coordinator's loop is the same as in
 * the rounds path: it takes each step's updates, summed in partition order, from {@link
 * #awaitStep}, applies the aggregator and the optimizer, and hands the new weights to {@link
 * #publish}, which answers the waiting tasks. So the weights are bit for bit those of the rounds
 * path, and the coordinator keeps the authoritative weights and optimizer state.
 *
 * <p>Where the sum is formed is {@link StageReduce} ({@code spark.ember.stageReduce}): on the
 * driver from the whole updates (the default), or among the tasks, which send the driver only their
 * chunks of the sum. After each epoch's stage, and when a stage fails or is cancelled, the driver
 * removes whatever block of the tasks' exchanges is left ({@link BlockAllReduce#removeLeftovers}).
 *
 * <p>A stage per epoch rather than per fit: validation, checkpoints, early stopping and the privacy
 * budget stay between epochs on the driver as in the rounds path, and a retried stage recomputes at
 * most the current epoch's unfinished step. It costs one job per epoch.
 */
public final class StageTraining implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StageTraining.class);

  /** Spark conf: how long any wait of a training stage may last before it fails. */
  public static final String TIMEOUT_CONF = "spark.ember.stageTimeout";

  private static final String DEFAULT_TIMEOUT = "10min";
  private static final long POLL_MILLIS = 200;

  private final JavaSparkContext sc;
  private final JavaRDD<PartitionData> data;
  private final TrainingConfig config;
  private final int partitions;
  private final int steps;
  private final long timeoutMillis;
  private final StageReduce reduce;
  private StepExchange exchange;
  private StagePhases phases;

  /** When the current step's sum was ready: the optimizer's time runs from here to publish. */
  private long summedAt;

  private RpcEndpointRef endpoint;
  private String endpointName;
  private JavaFutureAction<List<Integer>> job;
  private int epoch;

  private StageTraining(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      TrainingConfig config,
      int partitions,
      int steps,
      StageReduce reduce) {
    this.sc = sc;
    this.reduce = reduce;
    this.data = data;
    this.config = config;
    this.partitions = partitions;
    this.steps = steps;
    this.timeoutMillis = sc.getConf().getTimeAsMs(TIMEOUT_CONF, DEFAULT_TIMEOUT);
  }

  /**
   * A stage runner for a fit of {@code steps} steps per epoch over {@code partitions} partitions,
   * or null to train in rounds. When the cluster cannot run a task per partition at once (Spark
   * would otherwise retry the barrier stage for minutes before failing) or the data's lineage
   * changes the number of partitions without a shuffle (a {@code coalesce}: Spark refuses such a
   * barrier stage), a fit that chose {@code executionMode=stage} explicitly fails before training,
   * one that runs it by default falls back to rounds with a WARN.
   *
   * @throws IllegalStateException naming the partitions, executors, cores and slots, or the
   *     partition change, when {@code explicit}
   */
  public static StageTraining openOrFallBack(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      TrainingConfig config,
      int partitions,
      int steps,
      boolean explicit,
      StageReduce reduce) {
    String obstacle = obstacle(sc, data.rdd(), partitions);
    if (obstacle == null) {
      return new StageTraining(sc, data, config, partitions, steps, reduce);
    }
    if (explicit) {
      throw new IllegalStateException(
          "executionMode=stage " + obstacle + ", or set executionMode=rounds");
    }
    LOG.warn(
        "executionMode=stage {}; training in rounds (one Spark job per step, slower) instead",
        obstacle);
    return null;
  }

  /** Why the cluster or the data's lineage cannot run the barrier stage, or null. */
  private static String obstacle(JavaSparkContext sc, RDD<?> data, int partitions) {
    int slots = SparkInternals.taskSlots(sc.sc());
    if (partitions > slots) {
      int executors = Math.max(1, sc.sc().statusTracker().getExecutorInfos().length - 1);
      return "trains the "
          + partitions
          + " partitions as one Spark barrier stage, which needs "
          + partitions
          + " task slots at once, but the cluster has "
          + slots
          + " ("
          + executors
          + " executor(s), "
          + sc.defaultParallelism()
          + " cores, spark.task.cpus="
          + sc.getConf().get("spark.task.cpus", "1")
          + "): set numPartitions to at most "
          + slots
          + " or add executors or cores";
    }
    String changed = partitionCountChange(data, partitions);
    if (changed != null) {
      return "needs the data's partitions to come from a shuffle or a scan, but "
          + changed
          + " without a shuffle, which Spark's barrier mode refuses (SPARK-24820): set"
          + " numPartitions (Ember then repartitions)";
    }
    return null;
  }

  /**
   * The first RDD computed in the same stage as {@code rdd} (up to its shuffle or source) whose
   * parent has another number of partitions, e.g. a {@code coalesce}, described; or null.
   */
  private static String partitionCountChange(RDD<?> rdd, int partitions) {
    for (Dependency<?> d : CollectionConverters.asJava(rdd.dependencies())) {
      if (d instanceof ShuffleDependency<?, ?, ?>) {
        continue; // a stage boundary
      }
      RDD<?> parent = d.rdd();
      if (parent.getNumPartitions() != partitions) {
        return "the plan turns "
            + parent.getNumPartitions()
            + " partitions into "
            + partitions
            + " ("
            + rdd.getClass().getSimpleName()
            + ")";
      }
      String above = partitionCountChange(parent, partitions);
      if (above != null) {
        return above;
      }
    }
    return null;
  }

  /**
   * Whether the tasks apply each step to their replicas, as the driver applies it to its own
   * ({@link #awaitCombined}), rather than wait for the new weights ({@link #publish}). The driver
   * then sends the combined step as soon as it is formed, and applies its own copy while the tasks
   * already compute the next step: the driver's optimizer is off the step's critical path, as in
   * PyTorch's DDP, where every rank runs the optimizer on the all-reduced gradient. With {@code
   * spark.ember.stageReduce=tasks} the driver applies the steps and answers with chunks of the
   * weights.
   */
  public boolean replicatesSteps() {
    return reduce == StageReduce.DRIVER;
  }

  /**
   * Starts epoch {@code epoch}'s stage from {@code weights}.
   *
   * @param resumeAt with {@link #replicatesSteps}: the driver's state at a step, for a task that
   *     registers (called on the training thread); else null
   */
  void beginEpoch(
      int epoch, RoundWeights weights, int maxEpochs, IntFunction<StageMessages.Resume> resumeAt) {
    this.epoch = epoch;
    phases = new StagePhases(partitions);
    exchange = new StepExchange(partitions, weights, phases, reduce, resumeAt);
    String name = "ember-stage-" + config.runKey() + "-" + epoch;
    endpoint =
        SparkInternals.setupDriverEndpoint(
            name, new StageEndpoint(SparkInternals.rpcEnv(), exchange));
    if (LocalStages.enabled(sc)) {
      LocalStages.register(name, exchange);
    }
    endpointName = name;
    sc.setJobDescription(
        String.format(
            "Ember epoch %d/%d: training stage of %d steps on %d partitions",
            epoch + 1, maxEpochs, steps, partitions));
    TrainingConfig c = config;
    int e = epoch;
    int n = steps;
    long timeout = timeoutMillis;
    StageReduce r = reduce;
    Function1<scala.collection.Iterator<PartitionData>, scala.collection.Iterator<Integer>> task =
        (Function1<scala.collection.Iterator<PartitionData>, scala.collection.Iterator<Integer>>
                & Serializable)
            it ->
                CollectionConverters.asScala(
                    StageTask.run(c, name, e, n, timeout, r, CollectionConverters.asJava(it)));
    // The barrier stage feeds an (empty) shuffle: Spark retries a failed barrier ShuffleMapStage
    // (spark.stage.maxConsecutiveAttempts times) but aborts the job on a failed barrier
    // ResultStage ("Could not recover from a failed barrier ResultStage").
    job =
        JavaRDD.fromRDD(
                data.rdd()
                    .barrier()
                    .mapPartitions(task, false, ClassTag$.MODULE$.apply(Integer.class)),
                ClassTag$.MODULE$.apply(Integer.class))
            .repartition(1)
            .collectAsync();
    phases.started(System.nanoTime());
  }

  /**
   * Step {@code step}'s updates summed in partition order.
   *
   * @throws IllegalStateException when they do not all arrive within {@code spark.ember.
   *     stageTimeout}, naming the missing partitions; the stage's own failure as the rounds path
   *     would throw it
   */
  Update awaitStep(int step) {
    return await(step, wait -> exchange.awaitStep(step, wait));
  }

  /**
   * With {@link #replicatesSteps}: step {@code step}'s sum and the step {@code aggregator} combined
   * from it, already sent to the tasks ({@link StepExchange#awaitCombined}: combined on the thread
   * that brought the last update, and applied there with {@code driver} when the tasks are in the
   * driver's JVM).
   *
   * @throws IllegalStateException as {@link #awaitStep}
   */
  RoundExecutor.Combined awaitCombined(
      int step, Aggregator aggregator, RoundExecutor.DriverStep driver) {
    return await(step, wait -> exchange.awaitCombined(step, aggregator, driver, wait));
  }

  /** One bounded wait of the exchange's; null when it timed out. */
  private interface ExchangeWait<T> {
    T await(long waitMillis) throws InterruptedException;
  }

  /** Polls {@code wait} until it yields, the stage fails or {@code spark.ember.stageTimeout}. */
  private <T> T await(int step, ExchangeWait<T> wait) {
    long start = System.nanoTime();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    try {
      while (true) {
        T result = wait.await(POLL_MILLIS);
        if (result != null) {
          summedAt = System.nanoTime();
          phases.awaited(summedAt - start);
          return result;
        }
        if (job.isDone()) {
          job.get(); // throws the stage's failure
          throw new IllegalStateException(
              "training stage of epoch " + (epoch + 1) + " ended before step " + step);
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "training stage of epoch "
                  + (epoch + 1)
                  + ": step "
                  + step
                  + " got no update from partitions "
                  + exchange.missing()
                  + " of "
                  + partitions
                  + " within "
                  + timeoutMillis / 1000
                  + " s ("
                  + TIMEOUT_CONF
                  + ")");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw new IllegalStateException("interrupted while awaiting a training step", e);
    } catch (ExecutionException e) {
      close();
      throw sneaky(e.getCause());
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** The weights after the current step, for the tasks. */
  void publish(RoundWeights weights) {
    exchange.publish(weights, System.nanoTime() - summedAt);
  }

  /** With {@link #replicatesSteps}: the driver has applied the step to its own state. */
  void stepApplied() {
    exchange.applied();
  }

  /** Waits for the epoch's stage to end. */
  void endEpoch() {
    String traffic = traffic();
    try {
      job.get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while ending a training stage", e);
    } catch (ExecutionException e) {
      throw sneaky(e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException(
          "training stage of epoch "
              + (epoch + 1)
              + " did not end within "
              + timeoutMillis / 1000
              + " s of its last step ("
              + TIMEOUT_CONF
              + ")");
    } finally {
      close();
    }
    LOG.info(
        "training stage of epoch {} ({}={}, {}): {}",
        epoch + 1,
        StageReduce.CONF,
        reduce.paramValue(),
        traffic,
        phases.summary());
  }

  /** Stops the current stage, if any: fails its waiting tasks, cancels its job. */
  @Override
  public void close() {
    if (job != null && !job.isDone()) {
      LOG.warn("cancelling the training stage of epoch {}", epoch + 1);
      exchange.abort("the driver stopped the training stage of epoch " + (epoch + 1));
      job.cancel(true);
    }
    job = null;
    if (endpoint != null) {
      LocalStages.remove(endpointName);
      SparkInternals.stopEndpoint(endpoint);
      endpoint = null;
    }
    if (reduce == StageReduce.TASKS && exchange != null) {
      // none after a stage that ended normally; a failed attempt's blocks when a task could not
      // remove its own (its executor is gone, or the kill came mid-put)
      BlockAllReduce.removeLeftovers(config.runKey());
      exchange = null;
    }
  }

  /** The driver's bytes in and out per step of the epoch, for its log line. */
  private String traffic() {
    long[] moved = exchange.bytesMoved();
    int n = Math.max(1, exchange.completed());
    return String.format(
        java.util.Locale.ROOT, "driver bytes per step: in %d, out %d", moved[0] / n, moved[1] / n);
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> RuntimeException sneaky(Throwable t) throws E {
    throw (E) t;
  }
}
