package org.emberdl.cluster

import java.io.File
import java.nio.file.Files

import scala.jdk.CollectionConverters._

import org.apache.spark.{SparkException, TaskContext}
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.sql.{Row, SparkSession}
import org.apache.spark.sql.types.{ArrayType, DoubleType, FloatType, StructField, StructType}
import org.emberdl.spark.EmberClassifier
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

/**
 * The `device` Param where Spark assigns each task a GPU (`spark.task.resource.gpu.amount=1`) on
 * executors without an NVIDIA driver: two executor JVMs (`local-cluster`) whose workers' discovery
 * script reports GPU 0. Spark's local mode assigns tasks no resources, so only a cluster shows that
 * the executor engine reads `TaskContext.resources()("gpu")`.
 */
class GpuFallbackClusterSuite extends AnyFunSuite with BeforeAndAfterAll {
  private var spark: SparkSession = _

  override def beforeAll(): Unit = {
    val dir = ClusterSupport.freshDir("gpu-discovery")
    val script = new File(dir, "gpus.sh")
    Files.writeString(script.toPath, "#!/bin/sh\necho '{\"name\":\"gpu\",\"addresses\":[\"0\"]}'\n")
    assert(script.setExecutable(true))
    spark = ClusterSupport.startLocalCluster(
      "ember-gpu-fallback",
      Map(
        "spark.worker.resource.gpu.amount" -> "1",
        "spark.worker.resource.gpu.discoveryScript" -> script.getPath,
        "spark.executor.resource.gpu.amount" -> "1",
        "spark.executor.resource.gpu.discoveryScript" -> script.getPath,
        "spark.task.resource.gpu.amount" -> "1"))
  }

  override def afterAll(): Unit = if (spark != null) ClusterSupport.stopLocalCluster(spark)

  /** 64 rows of 4 features in two classes (class c: feature c is 3, the others 0). */
  private def data() = {
    val rows = (0 until 64).map { i =>
      val c = i % 2
      Row(Array.tabulate[Float](4)(j => if (j == c) 3f else 0f), c.toDouble)
    }
    val schema = StructType(
      Seq(
        StructField("features", ArrayType(FloatType, containsNull = false)),
        StructField("label", DoubleType, nullable = false)))
    spark.createDataFrame(rows.asJava, schema).repartition(2)
  }

  private def classifier() =
    new EmberClassifier().setLayers(Array(4, 8, 2)).setBatchSize(16).setMaxEpochs(1).setSeed(3L)

  /**
   * The lines of the executors' logs that contain `text`: each executor runs in its own directory
   * of its worker's work directory, beside its `stdout` (where this module's log4j2-test config
   * logs) and `stderr`.
   */
  private def executorLogLines(text: String): Seq[String] = {
    val dirs = spark.sparkContext.parallelize(0 until 8, 8)
      .map(_ => new File(".").getCanonicalPath)
      .collect()
      .distinct
    for {
      d <- dirs.toSeq
      name <- Seq("stdout", "stderr")
      log = new File(d, name).toPath
      line <- Files.readAllLines(log).asScala if line.contains(text)
    } yield line
  }

  test("device=auto: tasks given GPU 0 train and score on the CPU, one WARN per executor") {
    val gpus = spark.sparkContext.parallelize(0 until 4, 4)
      .map(_ => TaskContext.get().resources()("gpu").addresses.toSeq)
      .collect()
    assert(gpus.forall(_ == Seq("0")), s"Spark assigned ${gpus.toSeq}")

    val df = data()
    val model = classifier().fit(df)
    assert(model.getDevice == "auto")
    assert(model.transform(df).count() == 64)
    val warns = executorLogLines("task was given GPU 0 on executor ")
    assert(warns.nonEmpty && warns.size <= 2, s"one WARN per executor: $warns")
    warns.foreach { w =>
      assert(w.contains(", but CUDA is unavailable there: no NVIDIA driver: libcuda.so.1 not found ("), w)
      assert(w.endsWith("; running on the CPU (device=auto)"), w)
    }
  }

  test("device=cuda: a scoring task fails naming its executor and the reason") {
    val df = data()
    val model = classifier().fit(df)
    val e = intercept[SparkException] {
      model.copy(ParamMap.empty).setDevice("cuda").transform(df).collect()
    }
    assert(
      e.getMessage.matches(
        "(?s).*java.lang.IllegalStateException: device=cuda asked, but CUDA is unavailable on"
          + " executor [01] \\((?:127\\.0\\.0\\.1|localhost)\\): no NVIDIA driver:"
          + " libcuda\\.so\\.1 not found \\(.*"), // the host as Spark names it on loopback
      e.getMessage)
  }

  test("device=cuda: fit fails before any job, as Ember's stages do not run on CUDA yet") {
    val e = intercept[IllegalStateException](classifier().setDevice("cuda").fit(data()))
    assert(
      e.getMessage == "device=cuda asked, but Ember's Spark stages do not run on CUDA yet, so no"
        + " executor can run on CUDA; set device=auto or cpu to run on the CPU")
  }
}
