package org.emberdl.benchmarks;

import java.io.Serializable;
import org.apache.spark.TaskContext;
import scala.Function2;
import scala.collection.Iterator;

/**
 * A task function for {@code SparkContext.runJob}, declared in a class of its own: Spark's
 * ClosureCleaner reads and parses the class file of a closure's capturing class on every job
 * ({@code RDD.collect()}'s closure is captured by {@code RDD}, a 184 KB class file), so a small
 * capturing class keeps that cost down ({@link SparkTrainingBenchmark}'s probes compare the two).
 */
final class SparkProbeFunctions {
  private SparkProbeFunctions() {}

  interface TaskFunction<T, U> extends Function2<TaskContext, Iterator<T>, U>, Serializable {}

  /** The task's partition id. */
  static <T> TaskFunction<T, Integer> partitionId() {
    return (ctx, it) -> ctx.partitionId();
  }
}
