package org.emberdl.cluster

import java.io.File
import java.util.Arrays

import scala.concurrent.{Await, ExecutionContext, Future}
import scala.concurrent.duration._

import org.apache.spark.scheduler.{SparkListener, SparkListenerJobStart}
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.functions.col
import org.emberdl.spark.EmberClassificationModel
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

/**
 * Ember across two executor JVMs (`local-cluster`): serialization of the stages and updates,
 * native OpenBLAS loading on executors, broadcasts between processes, and task retries after an
 * executor is killed.
 */
class LocalClusterSuite extends AnyFunSuite with BeforeAndAfterAll {
  private var spark: SparkSession = _

  override def beforeAll(): Unit = {
    assume(Reference.dataAvailable, "Fashion-MNIST is not installed (scripts/setup.sh installs it)")
    Reference.run // needs its own local[2] session first
    spark = ClusterSupport.startLocalCluster("ember-local-cluster")
  }

  override def afterAll(): Unit = if (spark != null) ClusterSupport.stopLocalCluster(spark)

  test("train across two executor JVMs, save, load, score Parquet; weights equal local[2]'s") {
    val ref = Reference.run
    val executorPids = ClusterSupport.executorPids(spark)
    assert(executorPids.size == 2 && !executorPids.contains(ProcessHandle.current().pid()),
      s"tasks ran in $executorPids, driver ${ProcessHandle.current().pid()}")

    val model = ClusterSupport.timed("local-cluster: fit") {
      Reference.classifier().fit(spark.read.parquet(ref.train))
    }
    // Same data, seed and partitioning as the local[2] reference; every partition's work is
    // deterministic and the driver sums updates in partition order, so the weights are identical
    // bit for bit, whichever JVM ran which task.
    assert(Arrays.equals(model.weights(), ref.weights), "weights differ from the local[2] run")

    val dir = ClusterSupport.freshDir("local-cluster-model")
    val modelPath = new File(dir, "model").getPath
    model.write.overwrite().save(modelPath)
    val loaded = EmberClassificationModel.load(modelPath)
    val predictions = new File(dir, "predictions.parquet").getPath
    ClusterSupport.timed("local-cluster: score") {
      loaded.transform(spark.read.parquet(ref.test)).drop("features").write.parquet(predictions)
    }
    val scored = spark.read.parquet(predictions)
    assert(scored.count() == Reference.TestRows)
    val accuracy = scored.filter(col("prediction") === col("label")).count().toDouble / Reference.TestRows
    // 3 epochs of a 784-128-10 MLP on 6000 images: about 0.8 (the local[2] run's value, exactly).
    assert(accuracy > 0.7, s"accuracy $accuracy")
    assert(math.abs(accuracy - ref.accuracy) < 1e-12, s"accuracy $accuracy vs local[2] ${ref.accuracy}")
  }

  test("an executor killed with SIGKILL mid-training: the fit completes with the undisturbed weights") {
    val ref = Reference.run
    implicit val ec: ExecutionContext = ExecutionContext.global
    ClusterSupport.executorPids(spark) // both executors up before the clock starts
    val data = spark.read.parquet(ref.train)
    val fit = Future(Reference.classifier().fit(data))

    // Wait until the second epoch is under way (the coordinator names each round's job), then
    // kill one executor JVM outright.
    // With the default executionMode=stage that job is epoch 2's barrier stage: the kill fails
    // it, Spark retries it, and its tasks resume from the last step the driver applied.
    val secondEpoch = new java.util.concurrent.CountDownLatch(1)
    @volatile var killedJob = ""
    spark.sparkContext.addSparkListener(new SparkListener {
      override def onJobStart(job: SparkListenerJobStart): Unit = {
        val description =
          Option(job.properties).flatMap(p => Option(p.getProperty("spark.job.description")))
        if (description.exists(_.contains("epoch 2/")) && secondEpoch.getCount > 0) {
          killedJob = description.get
          secondEpoch.countDown()
        }
      }
    })
    secondEpoch.await(5, java.util.concurrent.TimeUnit.MINUTES)
    assert(killedJob.contains("training stage"), s"killed during '$killedJob'")
    assert(!fit.isCompleted, "training ended before an executor could be killed")
    val victim = ProcessHandle.of(ClusterSupport.executorPids(spark).min).orElseThrow()
    assert(victim.destroyForcibly(), s"could not kill executor ${victim.pid()}")

    val model = ClusterSupport.timed("local-cluster: fit with an executor killed") {
      Await.result(fit, 10.minutes)
    }
    assert(!victim.isAlive)
    assert(Arrays.equals(model.weights(), ref.weights),
      "a run that lost an executor must end with the undisturbed weights")
  }
}
