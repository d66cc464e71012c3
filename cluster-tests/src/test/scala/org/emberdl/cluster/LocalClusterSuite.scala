package org.emberdl.cluster

import java.io.File
import java.util.Arrays
import java.util.concurrent.TimeUnit

import scala.concurrent.{Await, ExecutionContext, Future}
import scala.concurrent.duration._

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.functions.col
import org.emberdl.spark.{EmberClassificationModel, ProgressListener, TrainingProgress}
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
    // Both executors up, and their pids known, before training: a job run during the fit would
    // queue behind the training stage, which holds every slot.
    val victim = ProcessHandle.of(ClusterSupport.executorPids(spark).min).orElseThrow()

    // The kill comes from the driver's progress listener, after step 10 of epoch 2 has been applied
    // and answered: with the default executionMode=stage, epoch 2's barrier stage is then running
    // step 11 on both executors. Losing one fails the stage; Spark retries it and its tasks resume
    // from the last step the driver applied. Killing at a fixed step (rather than when a job
    // starts) makes the scenario the same on every machine, fast or slow.
    @volatile var killedAt = ""
    val listener = new ProgressListener {
      override def onStep(p: TrainingProgress): Unit =
        if (p.epoch == 2 && p.step == 10 && killedAt.isEmpty) {
          killedAt = s"epoch ${p.epoch} step ${p.step} of ${p.stepsPerEpoch}"
          victim.destroyForcibly()
          victim.onExit().get(1, TimeUnit.MINUTES)
        }
    }
    val data = spark.read.parquet(ref.train)
    val fit = Future(Reference.classifier().setProgressListener(listener).fit(data))
    val model = ClusterSupport.timed("local-cluster: fit with an executor killed") {
      try Await.result(fit, 8.minutes)
      catch {
        case e: java.util.concurrent.TimeoutException =>
          val executors = spark.sparkContext.statusTracker.getExecutorInfos
            .map(e => s"${e.host}:${e.port} running ${e.numRunningTasks}").mkString(", ")
          fail(s"the fit did not end within 8 minutes of a kill at '$killedAt'; executors: $executors", e)
      }
    }
    assert(killedAt.nonEmpty, "the fit never reached epoch 2 step 10")
    assert(!victim.isAlive)
    assert(Arrays.equals(model.weights(), ref.weights),
      "a run that lost an executor must end with the undisturbed weights")
  }

  test("spark.ember.stageReduce=tasks on two executor JVMs, one killed with SIGKILL: the undisturbed weights") {
    val ref = Reference.run
    implicit val ec: ExecutionContext = ExecutionContext.global
    // The previous test's victim has been replaced by now or soon: the barrier stage needs both.
    val deadline = System.nanoTime() + 2.minutes.toNanos
    while (spark.sparkContext.statusTracker.getExecutorInfos.length < 3 && System.nanoTime() < deadline) {
      Thread.sleep(200)
    }
    val victim = ProcessHandle.of(ClusterSupport.executorPids(spark).min).orElseThrow()
    // Each step's updates are reduce-scattered between the two executors over their block
    // managers and the driver sees only the halves of the sum; the kill (after step 5 of epoch 2
    // has been answered) leaves the survivor waiting for its peer's block of step 6 until Spark
    // kills it and retries the stage, whose tasks register at the same step.
    @volatile var killedAt = ""
    val listener = new ProgressListener {
      override def onStep(p: TrainingProgress): Unit =
        if (p.epoch == 2 && p.step == 5 && killedAt.isEmpty) {
          killedAt = s"epoch ${p.epoch} step ${p.step} of ${p.stepsPerEpoch}"
          victim.destroyForcibly()
          victim.onExit().get(1, TimeUnit.MINUTES)
        }
    }
    spark.conf.set("spark.ember.stageReduce", "tasks")
    try {
      val data = spark.read.parquet(ref.train)
      val fit = Future(
        Reference.classifier().setExecutionMode("stage").setProgressListener(listener).fit(data))
      val model = ClusterSupport.timed("local-cluster: tasks reduce, fit with an executor killed") {
        Await.result(fit, 8.minutes)
      }
      assert(killedAt.nonEmpty, "the fit never reached epoch 2 step 5")
      assert(Arrays.equals(model.weights(), ref.weights),
        "a run that reduced among the tasks and lost an executor must end with the local[2] weights")
    } finally spark.conf.unset("spark.ember.stageReduce")
  }
}
