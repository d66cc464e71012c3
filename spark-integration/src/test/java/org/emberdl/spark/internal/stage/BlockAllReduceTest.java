package org.emberdl.spark.internal.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.emberdl.federated.Update;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.internal.data.SparkBlocks;
import org.emberdl.spark.internal.train.Coordinator;
import org.junit.jupiter.api.Test;
import scala.Function1;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;

/**
 * BlockAllReduce among the two tasks of a local[2] barrier stage: every task ends each step with
 * the driver's sum bit for bit, the block manager holds none of its blocks afterwards, and a task
 * whose peer is gone fails with a clear error within the configured timeout.
 */
class BlockAllReduceTest {
  private static final int PARTITIONS = 2;
  private static final int STEPS = 6;

  private final SparkSession spark = SparkTestSession.get();

  /** One task's result of one step. */
  record Out(int partition, int step, float[] values, float[] buffers, double lossSum, long n)
      implements Serializable {}

  /** Partition {@code p}'s known update of {@code step}. */
  static Update update(int partition, int step) {
    Random r = new Random(7919L * step + partition);
    return new Update(
        UpdateChunksTest.randomFloats(r, UpdateChunksTest.VALUES),
        UpdateChunksTest.randomFloats(r, UpdateChunksTest.BUFFERS),
        r.nextInt(100),
        r.nextDouble(),
        r.nextInt(100));
  }

  /**
   * Even steps all-reduce; odd steps reduce-scatter and all-gather the sum's shards (what a task
   * does when the driver sends each task its chunk of the new weights).
   */
  static List<Out> train(String key, long timeoutMillis, boolean partition1Gone) {
    return train(key, timeoutMillis, partition1Gone, -1);
  }

  /**
   * @param failAt in the stage's first attempt, partition 1 fails after computing this step (-1:
   *     never)
   */
  static List<Out> train(String key, long timeoutMillis, boolean partition1Gone, int failAt) {
    BlockAllReduce reduce = BlockAllReduce.forTask(key, timeoutMillis);
    org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
    int p = task.partitionId();
    List<Out> outs = new ArrayList<>();
    if (partition1Gone && p == 1) {
      return outs; // a peer that never takes part
    }
    for (int step = 0; step < STEPS; step++) {
      if (p == 1 && step == failAt && task.stageAttemptNumber() == 0) {
        throw new IllegalStateException("injected failure of partition 1 at step " + step);
      }
      Update mine = update(p, step);
      if (step % 2 == 0) {
        Update sum = reduce.allReduce(step, mine);
        outs.add(new Out(p, step, sum.values(), sum.buffers(), sum.lossSum(), sum.examples()));
      } else {
        BlockAllReduce.Shard shard = reduce.reduceScatter(step, mine);
        int length = UpdateChunksTest.VALUES + UpdateChunksTest.BUFFERS;
        float[] flat = reduce.allGather(step, "weights", length, shard.sum().floats());
        float[] v = java.util.Arrays.copyOf(flat, UpdateChunksTest.VALUES);
        float[] b = java.util.Arrays.copyOfRange(flat, UpdateChunksTest.VALUES, length);
        outs.add(new Out(p, step, v, b, shard.sum().lossSum(), shard.sum().examples()));
      }
    }
    reduce.close();
    return outs;
  }

  private List<Out> runStage(String key, long timeoutMillis, boolean partition1Gone) {
    JavaRDD<Integer> rdd =
        JavaSparkContext.fromSparkContext(spark.sparkContext())
            .parallelize(List.of(0, 1), PARTITIONS);
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Out>> task =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Out>>
                & Serializable)
            it ->
                CollectionConverters.asScala(train(key, timeoutMillis, partition1Gone).iterator());
    return JavaRDD.fromRDD(
            rdd.rdd().barrier().mapPartitions(task, false, ClassTag$.MODULE$.apply(Out.class)),
            ClassTag$.MODULE$.apply(Out.class))
        .collect();
  }

  @Test
  void everyTaskEndsEachStepWithTheDriversSumBitForBitAndNoBlockIsLeft() {
    List<Out> outs = runStage("fit-0b6e4a3c-sums", 60_000, false);
    assertEquals(PARTITIONS * STEPS, outs.size());
    for (Out o : outs) {
      List<Update> updates = new ArrayList<>();
      for (int q = 0; q < PARTITIONS; q++) {
        updates.add(update(q, o.step()));
      }
      Update expected = Coordinator.sum(updates);
      UpdateChunksTest.assertBits(expected.values(), o.values());
      UpdateChunksTest.assertBits(expected.buffers(), o.buffers());
      assertEquals(
          Double.doubleToRawLongBits(expected.lossSum()), Double.doubleToRawLongBits(o.lossSum()));
      assertEquals(expected.examples(), o.n());
    }
    assertEquals(List.of(), SparkBlocks.names(BlockAllReduce.prefix("fit-0b6e4a3c-sums")));
  }

  /**
   * A barrier stage that feeds a shuffle is retried as a whole when a task fails (as the training
   * stage is): the failed attempt's tasks leave no block behind, and the retry, whose block ids
   * carry the new attempt number, sums every step exactly.
   */
  @Test
  void aRetriedStageSumsExactlyAndTheFailedAttemptLeavesNoBlock() {
    String key = "fit-retry";
    JavaRDD<Integer> rdd =
        JavaSparkContext.fromSparkContext(spark.sparkContext())
            .parallelize(List.of(0, 1), PARTITIONS);
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Out>> task =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Out>>
                & Serializable)
            it -> CollectionConverters.asScala(train(key, 60_000, false, 3).iterator());
    List<Out> outs =
        JavaRDD.fromRDD(
                rdd.rdd().barrier().mapPartitions(task, false, ClassTag$.MODULE$.apply(Out.class)),
                ClassTag$.MODULE$.apply(Out.class))
            .repartition(1)
            .collect();
    assertEquals(PARTITIONS * STEPS, outs.size());
    for (Out o : outs) {
      Update expected = Coordinator.sum(List.of(update(0, o.step()), update(1, o.step())));
      UpdateChunksTest.assertBits(expected.values(), o.values());
      UpdateChunksTest.assertBits(expected.buffers(), o.buffers());
    }
    assertEquals(List.of(), SparkBlocks.names(BlockAllReduce.prefix(key)));
  }

  @Test
  void aTaskWhosePeerIsGoneFailsNamingItWithinTheTimeout() {
    long start = System.nanoTime();
    Exception e = assertThrows(Exception.class, () -> runStage("gone", 1_000, true));
    double seconds = (System.nanoTime() - start) / 1e9;
    String message = e.getMessage();
    assertTrue(
        message.contains(
            "training stage: partition 0 waited 1.0 s for chunk 0 of step 0 (reduce-scatter) from"
                + " partition(s) [1] (spark.ember.stageTimeout); their tasks are stuck or gone"),
        message);
    assertTrue(seconds < 30, "failed after " + seconds + " s");
    assertEquals(List.of(), SparkBlocks.names(BlockAllReduce.prefix("gone")));
  }
}
