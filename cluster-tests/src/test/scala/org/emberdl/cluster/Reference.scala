package org.emberdl.cluster

import java.io.File

import scala.jdk.CollectionConverters._

import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator
import org.apache.spark.sql.{DataFrame, Row, SparkSession}
import org.apache.spark.sql.types.{ArrayType, DataTypes, StructType}
import org.emberdl.data.FashionMnist
import org.emberdl.spark.{EmberClassificationModel, EmberClassifier}

/**
 * The data every suite trains on and the undisturbed result they compare with: a Fashion-MNIST
 * subset written as Parquet, and the model trained on it with `local[2]` (one JVM) with the same
 * seed and partitioning. Built once per test JVM, in a session that is stopped again, because a
 * JVM holds one SparkContext at a time.
 */
object Reference {
  val TrainRows = 6000
  val TestRows = 2000
  val Partitions = 2
  val Epochs = 3

  /** The recipe every suite uses; the partitioning and seed make runs comparable bit for bit. */
  def classifier(): EmberClassifier =
    new EmberClassifier()
      .setLayers(Array(784, 128, 10))
      .setBatchSize(128)
      .setMaxEpochs(Epochs)
      .setLearningRate(1e-3)
      .setSeed(42L)
      .setNumPartitions(Partitions)

  final case class Run(train: String, test: String, weights: Array[Byte], accuracy: Double)

  /** True when Debian's dataset-fashion-mnist package is installed (scripts/setup.sh does it). */
  def dataAvailable: Boolean = FashionMnist.isAvailable(FashionMnist.DEFAULT_DIR)

  lazy val run: Run = ClusterSupport.timed("reference: data + local[2] fit") {
    val dir = ClusterSupport.freshDir("data")
    val spark = ClusterSupport.builder("local[2]", "ember-reference").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    try {
      val train = new File(dir, "train.parquet").getPath
      val test = new File(dir, "test.parquet").getPath
      write(spark, FashionMnist.train(), TrainRows, train)
      write(spark, FashionMnist.test(), TestRows, test)
      // The reference trains in rounds (a Spark job per step); the suites train with the default,
      // a barrier stage per epoch over Spark RPC: the weights must agree across the two paths.
      val model = classifier().setExecutionMode("rounds").fit(spark.read.parquet(train))
      Run(train, test, model.weights(), accuracy(model, spark.read.parquet(test)))
    } finally spark.stop()
  }

  def accuracy(model: EmberClassificationModel, data: DataFrame): Double =
    new MulticlassClassificationEvaluator().setMetricName("accuracy").evaluate(model.transform(data))

  private def write(spark: SparkSession, data: org.emberdl.data.Dataset, rows: Int, path: String): Unit = {
    try {
      val x = data.features().toFloatArray
      val y = data.labels().toLongArray
      val features = 784
      val list = (0 until rows).map { i =>
        Row(java.util.Arrays.copyOfRange(x, i * features, (i + 1) * features), y(i).toDouble)
      }
      val schema = new StructType()
        .add("features", ArrayType(DataTypes.FloatType, containsNull = false))
        .add("label", DataTypes.DoubleType)
      spark.createDataFrame(list.asJava, schema).coalesce(1).write.mode("overwrite").parquet(path)
    } finally data.close()
  }
}
