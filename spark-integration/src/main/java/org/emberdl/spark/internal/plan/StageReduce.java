package org.emberdl.spark.internal.plan;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Where a training stage's per-step sum is formed, the Spark conf {@code spark.ember.stageReduce}.
 *
 * <p>{@link #DRIVER} (the default): every task sends its whole update to the driver, which sums
 * them; the driver receives {@code P * G} bytes per step for {@code P} partitions and updates of
 * {@code G} bytes, and sends the whole weights to each task. {@link #TASKS}: the tasks
 * reduce-scatter their updates among themselves over Spark's block manager ({@link
 * BlockAllReduce}), each sends the driver only its {@code 1/P} chunk of the sum, the driver
 * assembles the sum from the chunks ({@link UpdateChunks#assemble}), applies the aggregator and
 * optimizer as always, answers each task with its {@code 1/P} chunk of the new weights, and the
 * tasks all-gather the weights; the driver moves {@code G} bytes in and {@code G} out per step,
 * whatever {@code P}. Both give the same bits: the chunks are summed in partition order, as the
 * driver sums.
 */
public enum StageReduce implements ParamValue {
  DRIVER,
  TASKS;

  public static final String CONF = "spark.ember.stageReduce";

  /**
   * The conf's value in the session's runtime conf (settable with {@code spark.conf().set}), else
   * in the SparkContext's; {@link #DRIVER} when unset.
   *
   * @throws IllegalArgumentException naming the conf, the value and the accepted values
   */
  public static StageReduce of(SparkSession spark) {
    scala.Option<String> set = spark.conf().getOption(CONF);
    return of(set.isDefined() ? set.get() : spark.sparkContext().conf().get(CONF, null));
  }

  public static StageReduce of(SparkConf conf) {
    return of(conf.get(CONF, null));
  }

  private static StageReduce of(String value) {
    if (value == null) {
      return DRIVER;
    }
    return ParamValue.parse(values(), CONF, value.trim());
  }
}
