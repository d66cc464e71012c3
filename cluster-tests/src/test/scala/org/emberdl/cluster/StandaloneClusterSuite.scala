package org.emberdl.cluster

import java.io.File
import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.util.Arrays
import java.util.concurrent.TimeUnit

import scala.concurrent.duration._
import scala.jdk.CollectionConverters._

import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite
import org.slf4j.LoggerFactory

/**
 * The examples' shaded jar through `spark-submit` on a real standalone cluster (a Master and two
 * Workers on 127.0.0.1, each its own JVM; executors launched by the Workers): train, save, predict,
 * with the weights equal bit for bit to the local[2] reference; and the loss of the driver
 * mid-training, after which a rerun with the same checkpoint directory resumes and ends with the
 * weights of an undisturbed run.
 */
class StandaloneClusterSuite extends AnyFunSuite with BeforeAndAfterAll {
  import ClusterSupport.timed

  private val log = LoggerFactory.getLogger("org.emberdl.cluster")

  /** Per child JVM; generous, because this machine can be loaded. */
  private val SubmitTimeout = 6.minutes

  private var cluster: StandaloneCluster = _

  override def beforeAll(): Unit = {
    assume(Reference.dataAvailable, "Fashion-MNIST is not installed (scripts/setup.sh installs it)")
    Reference.run // needs its own local[2] session in this JVM, before the cluster's JVMs start
    cluster = timed("standalone: master + 2 workers up")(StandaloneCluster.start("standalone"))
  }

  override def afterAll(): Unit =
    if (cluster != null) timed("standalone: stop")(cluster.stop())

  private def recipe(data: String, modelOut: File, epochs: Int): Seq[String] =
    Seq("train", "--data", data, "--model-out", modelOut.getPath, "--layers", "784,128,10",
      "--epochs", epochs.toString, "--batch-size", "128", "--lr", "1e-3", "--seed", "42",
      "--partitions", Reference.Partitions.toString)

  /** Submits `args`, waits, and requires exit status 0; returns the child's output. */
  private def submitAndWait(what: String, args: Seq[String]): String = {
    val log = new File(cluster.dir, s"$what.log")
    val p = cluster.submit(args, log)
    val finished = timed(s"standalone: $what")(p.waitFor(SubmitTimeout.toSeconds, TimeUnit.SECONDS))
    if (!finished) {
      p.descendants().forEach(c => { c.destroyForcibly(); () })
      p.destroyForcibly().waitFor()
      fail(s"$what did not finish in $SubmitTimeout\n${cluster.logTails}")
    }
    val out = read(log)
    if (p.exitValue() != 0) fail(s"$what exited with ${p.exitValue()}\n${cluster.logTails}")
    awaitNoApps(what) // its executors gone, both cores free for the next application
    out
  }

  private def awaitNoApps(after: String): Unit =
    timed(s"standalone: no application after $after") {
      cluster.awaitCondition(s"the master to have no application after $after", 2.minutes) {
        cluster.noActiveApps()
      }
    }

  private def read(f: File): String = new String(Files.readAllBytes(f.toPath), StandardCharsets.UTF_8)

  private def weights(model: File): Array[Byte] =
    Files.readAllBytes(new File(model, "data/weights.safetensors").toPath)

  test("spark-submit train then predict on a standalone cluster") {
    val ref = Reference.run
    val model = new File(cluster.dir, "model")
    val predictions = new File(cluster.dir, "predictions.parquet")

    val trainLog = submitAndWait("train", recipe(ref.train, model, Reference.Epochs))
    assert(trainLog.contains(s"epoch ${Reference.Epochs}/${Reference.Epochs}: loss"), trainLog)

    val predictLog = submitAndWait("predict",
      Seq("predict", "--model", model.getPath, "--data", ref.test, "--out", predictions.getPath))
    val printed = """accuracy: ([0-9.]+) \((\d+) rows\)""".r.findFirstMatchIn(predictLog)
      .getOrElse(fail(s"predict prints the accuracy:\n$predictLog"))
    assert(printed.group(2).toInt == Reference.TestRows, predictLog)
    val accuracy = printed.group(1).toDouble // %.4f of a multiple of 1/2000: exact
    assert(accuracy > 0.7, s"accuracy $accuracy")
    assert(math.abs(accuracy - ref.accuracy) < 1e-9, s"accuracy $accuracy vs local[2] ${ref.accuracy}")
    // Same data, seed and partitioning as the local[2] reference, and the coordinator sums the
    // partitions' updates in partition order: identical bit for bit, whichever JVMs ran the tasks.
    assert(Arrays.equals(weights(model), ref.weights),
      s"the weights saved by spark-submit on the standalone cluster differ from local[2]'s\n$trainLog")
    val files = Option(predictions.list()).map(_.toSeq).getOrElse(Nil)
    assert(files.contains("_SUCCESS"), s"$predictions: $files")
    assert(files.exists(f => f.startsWith("part-") && f.endsWith(".parquet")), s"$predictions: $files")
  }

  test("driver loss: a rerun with the same checkpointDir resumes and matches the undisturbed run") {
    val ref = Reference.run
    val epochs = Reference.Epochs // 3: the undisturbed result is the reference's (test a shows a
    // cluster run equals it), so no third submit is needed
    val checkpoints = new File(cluster.dir, "checkpoints")
    val resumed = new File(cluster.dir, "model-resumed")
    val args = recipe(ref.train, resumed, epochs) ++
      Seq("--checkpoint-dir", checkpoints.getPath, "--checkpoint-interval", "1")
    def epochsDone(): Seq[Int] =
      Option(checkpoints.list()).map(_.toSeq).getOrElse(Nil).collect {
        case n if n.matches("epoch-\\d{6}") => n.drop(6).toInt
      }.sorted

    // The driver (the SparkSubmit JVM, client mode) dies outright once epoch 2's checkpoint is in.
    val killedLog = new File(cluster.dir, "train-killed.log")
    val driver = cluster.submit(args, killedLog)
    timed("standalone: train until the epoch-2 checkpoint") {
      val deadline = SubmitTimeout.fromNow
      while (!new File(checkpoints, "epoch-000002").isDirectory) {
        if (!driver.isAlive)
          fail(s"the driver exited (${driver.exitValue()}) before epoch 2's checkpoint\n${read(killedLog)}")
        if (deadline.isOverdue()) {
          driver.destroyForcibly().waitFor()
          fail(s"no epoch-000002 checkpoint after $SubmitTimeout\n${cluster.logTails}")
        }
        Thread.sleep(200)
      }
    }
    assert(driver.isAlive, "training ended before the driver could be killed")
    val children = driver.descendants().iterator().asScala.toList
    assert(driver.toHandle.destroyForcibly(), s"could not kill the driver ${driver.pid()}")
    assert(driver.waitFor(30, TimeUnit.SECONDS), s"the driver ${driver.pid()} survived SIGKILL")
    children.foreach(c => { c.destroyForcibly(); c.onExit().get(30, TimeUnit.SECONDS) })
    awaitNoApps("the driver's SIGKILL")
    val done = epochsDone()
    val k = done.last
    log.warn(s"[standalone] driver pid ${driver.pid()} killed (children ${children.map(_.pid())}); " +
      s"checkpoints then: ${done.mkString(", ")}")
    // Polled every 200 ms: epoch 2's checkpoint is in, epoch 3's (the last) is not.
    assert(k >= 2 && k < epochs, s"checkpoints $done")

    val rerunLog = submitAndWait("train-rerun", args)
    assert(rerunLog.contains("resuming from checkpoint") && rerunLog.contains(s"($k epochs done)"),
      s"the rerun resumes after epoch $k:\n$rerunLog")
    assert(epochsDone().last == epochs, s"checkpoints ${epochsDone()}")

    // At most one checkpoint interval is redone, and redone identically: the same weights, bit for
    // bit, as the undisturbed run.
    assert(Arrays.equals(weights(resumed), ref.weights),
      "the resumed run's weights differ from the undisturbed run's")
  }
}
