package org.emberdl.cluster

import java.nio.{ByteBuffer, ByteOrder}
import java.util.concurrent.{ConcurrentHashMap, ConcurrentLinkedQueue, CountDownLatch, TimeUnit}
import java.util.concurrent.atomic.AtomicReference

import scala.concurrent.{Await, ExecutionContext, Future}
import scala.concurrent.duration._
import scala.jdk.CollectionConverters._

import org.apache.logging.log4j.{Level, LogManager}
import org.apache.logging.log4j.core.{LogEvent, LoggerContext}
import org.apache.logging.log4j.core.appender.AbstractAppender
import org.apache.logging.log4j.core.config.{Configurator, Property}
import org.apache.spark.{SparkEnv, Success}
import org.apache.spark.scheduler.{SparkListener, SparkListenerJobStart, SparkListenerTaskEnd}
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.functions.{col, lit, pmod, xxhash64}
import org.emberdl.federated.dp.RdpAccountant
import org.emberdl.spark.{EmberClassificationModel, EmberClassifier}
import org.scalatest.BeforeAndAfterAll
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite

/**
 * Federated training across two executor JVMs (`local-cluster`): DP-FedAvg over clients named by a
 * column, with secure aggregation (Bonawitz et al. pairwise masking, one Spark job per protocol
 * step, each client's secrets held in the executor that runs its partition). The masks generated in
 * one JVM must cancel those of the other, and a client whose executor is killed mid-round must drop
 * out without failing the fit.
 */
class FederatedClusterSuite extends AnyFunSuite with BeforeAndAfterAll with Eventually {
  import FederatedClusterSuite._

  private var spark: SparkSession = _
  private val secureRoundLog = new CapturedLog("org.emberdl.spark.internal.rounds.SecureRound")

  override def beforeAll(): Unit = {
    assume(Reference.dataAvailable, "Fashion-MNIST is not installed (scripts/setup.sh installs it)")
    Reference.run // needs its own local[2] session first
    spark = ClusterSupport.startLocalCluster("ember-federated-cluster")
    secureRoundLog.install()
  }

  override def afterAll(): Unit = {
    secureRoundLog.uninstall()
    if (spark != null) ClusterSupport.stopLocalCluster(spark)
  }

  /**
   * The Reference training rows split into 10 non-IID clients: client k holds images of the three
   * classes k, k-1 and k-2 (mod 10) only, each image going to one of its class's three clients by a
   * hash of its pixels. With two cores the clients fall into two partitions (runs of whole clients
   * by client number), one per executor.
   */
  private def clientData(): DataFrame = {
    val shift = pmod(xxhash64(col("features")), lit(3L)).cast("int") // 0, 1 or 2, by the pixels
    spark.read
      .parquet(Reference.run.train)
      .withColumn("client", pmod(col("label").cast("int") + shift, lit(Clients)))
  }

  /** Executor id -> process id of the executor JVMs now running. */
  private def executorProcesses(): Map[String, Long] =
    spark.sparkContext
      .parallelize(0 until 8, 8)
      .map(_ => SparkEnv.get.executorId -> ProcessHandle.current().pid())
      .collect()
      .toMap

  private def accuracy(model: EmberClassificationModel): Double =
    Reference.accuracy(model, spark.read.parquet(Reference.run.test))

  test("DP-FedAvg with secure aggregation across two executor JVMs: epsilon, accuracy, masks cancel") {
    val processes = executorProcesses()
    val driverPid = ProcessHandle.current().pid()
    assert(processes.size == 2 && !processes.values.exists(_ == driverPid), s"executors $processes")
    val data = clientData().cache()
    assert(data.select("client").distinct().count() == Clients)

    // Which executor ran each client-holding "train and mask" task: a task whose partition has a
    // sampled client returns that client's masked vector (4 bytes or more per parameter).
    val masking = new StepWatcher("train and mask")
    spark.sparkContext.addSparkListener(masking)
    secureRoundLog.clear()
    val model =
      try ClusterSupport.timed("federated: DP-FedAvg secure fit") {
          dpFedAvg(NoiseMultiplier).setSecureAggregation(true).fit(data)
        } finally spark.sparkContext.removeSparkListener(masking)

    val epochs = model.trainingSummary().epochs().asScala
    assert(model.trainingSummary().roundsPerEpoch() == 1)
    assert(epochs.size == Rounds)
    // Client-level DP: one round per "epoch", each the sampled Gaussian mechanism at (q, z).
    epochs.zipWithIndex.foreach { case (m, i) =>
      val expected = epsilonAfter(i + 1)
      assert(java.lang.Double.isFinite(expected) && expected > 0)
      assert(math.abs(m.epsilon() - expected) <= 1e-9 * expected,
        s"round ${i + 1}: ${m.epsilon()} vs $expected")
    }
    assert(epochs.map(_.epsilon()).sliding(2).forall(p => p(1) > p(0)), "epsilon grows every round")

    // Every round ran the whole protocol with nobody dropping out on a healthy cluster.
    val rounds = secureRoundLog.summaries()
    assert(rounds.size == Rounds, secureRoundLog.lines().mkString("\n"))
    rounds.foreach { r =>
      assert(r.attempt == 1 && r.dropped.isEmpty && r.summed == r.sampled && r.sampled >= 2, r.toString)
    }
    assert(!secureRoundLog.lines().exists(_.contains("retrying")))

    val maskedBy = eventually(timeout(30.seconds)) {
      val executors = masking.results().filter(_._2 >= 4L * Params).map(_._1).toSet
      assert(executors.size == 2, s"train-and-mask results ${masking.results()}")
      executors
    }
    val pids = maskedBy.map(processes)
    assert(pids.size == 2 && !pids.contains(driverPid), s"clients masked in $pids, driver $driverPid")

    val acc = accuracy(model)
    // 3 rounds of noisy, clipped, non-IID FedAvg on 6000 images: about 0.6, far above chance.
    assert(acc > 0.45, s"accuracy $acc")

    // Cross-JVM exactness: without noise, the unmasked sum is the plain sum of the clipped deltas
    // (up to the fixed-point rounding), whichever executor masked which client.
    val (secure, plain) = ClusterSupport.timed("federated: secure and plain fits without noise") {
      (dpFedAvg(0).setSecureAggregation(true).fit(data), dpFedAvg(0).fit(data))
    }
    val a = floats(secure.weights())
    val b = floats(plain.weights())
    assert(a.length == b.length && a.length == Params)
    val worst = a.indices.map(i => math.abs(a(i) - b(i))).max
    assert(worst <= 1e-5, s"secure and plain weights differ by up to $worst")
    assert(secureRoundLog.summaries().size == 2 * Rounds) // the secure fit's rounds, none retried
    val plainAcc = accuracy(plain)
    assert(plainAcc > 0.55, s"noise-free accuracy $plainAcc") // 0.64 in local[2]
    data.unpersist()
  }

  test("an executor killed with SIGKILL during 'train and mask': its clients drop out, the fit completes") {
    implicit val ec: ExecutionContext = ExecutionContext.global
    val processes = executorProcesses() // both executors up before the clock starts
    assert(processes.size == 2 && !processes.values.exists(_ == ProcessHandle.current().pid()),
      s"executors $processes") // never the driver: it is this JVM
    val data = clientData()

    // Kill one executor JVM as the second round's masking job starts: its tasks (and cached
    // partitions) are lost, Spark reruns them on the other executor, which holds no state for
    // those clients, so they drop out of the protocol.
    val victim = new AtomicReference[ProcessHandle]()
    val killed = new CountDownLatch(1)
    val killer = new SparkListener {
      override def onJobStart(job: SparkListenerJobStart): Unit =
        if (description(job).exists(_.endsWith(s"/round-$KilledRound/attempt-1: train and mask")) &&
          victim.get() == null) {
          val p = ProcessHandle.of(processes.values.min).orElseThrow()
          victim.set(p)
          p.destroyForcibly()
          killed.countDown()
        }
    }
    spark.sparkContext.addSparkListener(killer)
    secureRoundLog.clear()
    val model =
      try {
        val fit = Future(dpFedAvg(NoiseMultiplier).setSecureAggregation(true).fit(data))
        val deadline = System.nanoTime() + 5.minutes.toNanos
        while (!killed.await(1, TimeUnit.SECONDS) && !fit.isCompleted && System.nanoTime() < deadline) {
          // waiting for the masking job of the round to kill
        }
        assert(killed.getCount == 0, s"no masking job in round ${KilledRound + 1} (the fit: ${fit.value})")
        ClusterSupport.timed("federated: DP-FedAvg secure fit with an executor killed") {
          Await.result(fit, 10.minutes)
        }
      } finally spark.sparkContext.removeSparkListener(killer)

    val p = victim.get()
    eventually(timeout(30.seconds))(assert(!p.isAlive, s"executor ${p.pid()} survived SIGKILL"))
    val log = secureRoundLog.lines().mkString("\n")
    val killedRound = secureRoundLog.summaries().filter(_.round == KilledRound)
    val retried = secureRoundLog.lines().exists(l =>
      l.contains(s"/round-$KilledRound/attempt-1: ") && l.contains("retrying with fresh keys"))
    val dropped = killedRound.exists(_.dropped.nonEmpty)
    assert(retried || dropped, s"no dropout or retry in round ${KilledRound + 1}:\n$log")
    // The round ended with the survivors' sum, at the first attempt or after fresh keys.
    assert(killedRound.size == 1 && killedRound.head.summed >= killedRound.head.threshold, log)
    info(s"round ${KilledRound + 1} after the kill: ${killedRound.head}${if (retried) " (retried)" else ""}")

    val epochs = model.trainingSummary().epochs().asScala
    assert(epochs.size == Rounds)
    assert(math.abs(epochs.last.epsilon() - epsilonAfter(Rounds)) <= 1e-9 * epsilonAfter(Rounds))
    assert(floats(model.weights()).forall(java.lang.Float.isFinite))
    val acc = accuracy(model)
    assert(acc > 0.45, s"accuracy $acc")
  }
}

object FederatedClusterSuite {
  val Clients = 10
  val Rounds = 3
  val KilledRound = 1 // 0-based: the second round
  val ClientFraction = 0.8
  val NoiseMultiplier = 0.1
  val Delta = 1e-5
  val Params: Int = 784 * 32 + 32 + 32 * 10 + 10

  /** What the RDP accountant gives for `rounds` sampled Gaussian steps at (q, z), at delta. */
  def epsilonAfter(rounds: Int): Double =
    new RdpAccountant().withSteps(ClientFraction, NoiseMultiplier, rounds.toLong).epsilon(Delta)

  /** DP-FedAvg over the `client` column: Poisson-sampled clients, clipped deltas, noise z. */
  def dpFedAvg(noiseMultiplier: Double): EmberClassifier =
    new EmberClassifier()
      .setLayers(Array(784, 32, 10))
      .setClientIdCol("client")
      .setAggregation("dp-fedavg")
      .setClientFraction(ClientFraction)
      .setL2NormClip(1.0)
      .setNoiseMultiplier(noiseMultiplier)
      .setDelta(Delta)
      .setLocalEpochs(1)
      .setBatchSize(32)
      .setOptimizer("sgd") // the clients' local optimizer
      .setLearningRate(0.1)
      .setMaxEpochs(Rounds)
      .setSeed(7L)

  /** Every float of a float32 safetensors file (a model's `weights()`), in file order. */
  def floats(safetensors: Array[Byte]): Array[Float] = {
    val b = ByteBuffer.wrap(safetensors).order(ByteOrder.LITTLE_ENDIAN)
    val start = Math.toIntExact(8 + b.getLong(0))
    val out = new Array[Float]((safetensors.length - start) / 4)
    b.position(start)
    b.asFloatBuffer().get(out)
    out
  }

  def description(job: SparkListenerJobStart): Option[String] =
    Option(job.properties).flatMap(p => Option(p.getProperty("spark.job.description")))

  /** Executor id and result size of every successful task of the jobs running protocol `step`. */
  final class StepWatcher(step: String) extends SparkListener {
    private val stages = ConcurrentHashMap.newKeySet[Int]()
    private val tasks = new ConcurrentLinkedQueue[(String, Long)]()

    override def onJobStart(job: SparkListenerJobStart): Unit =
      if (description(job).exists(_.endsWith(": " + step))) stages.add(job.stageIds.max)

    override def onTaskEnd(task: SparkListenerTaskEnd): Unit =
      if (stages.contains(task.stageId) && task.reason == Success && task.taskMetrics != null)
        tasks.add(task.taskInfo.executorId -> task.taskMetrics.resultSize)

    def results(): Seq[(String, Long)] = tasks.asScala.toSeq
  }

  /** One line of SecureRound's per-round INFO summary. */
  final case class RoundSummary(
      round: Int, attempt: Int, sampled: Int, threshold: Int, summed: Int, dropped: Seq[Int])

  private val Summary =
    ("""secure aggregation \S*/round-(\d+)/attempt-(\d+): (\d+) clients sampled, threshold (\d+), """ +
      """(\d+) summed, dropped \[(.*)\]""").r.unanchored

  /** The driver's log lines of `logger` at INFO and above, captured by an appender added here. */
  final class CapturedLog(logger: String) {
    private val events = new ConcurrentLinkedQueue[String]()
    private val appender =
      new AbstractAppender("ember-cluster-tests-" + logger, null, null, true, Property.EMPTY_ARRAY) {
        override def append(event: LogEvent): Unit =
          events.add(s"${event.getLevel} ${event.getMessage.getFormattedMessage}")
      }

    private def context: LoggerContext = LogManager.getContext(false).asInstanceOf[LoggerContext]

    def install(): Unit = {
      appender.start()
      Configurator.setLevel(logger, Level.INFO) // a logger config of its own, below the root's WARN
      context.getConfiguration.getLoggerConfig(logger).addAppender(appender, Level.INFO, null)
      context.updateLoggers()
    }

    def uninstall(): Unit = {
      context.getConfiguration.removeLogger(logger)
      context.updateLoggers()
      appender.stop()
    }

    def clear(): Unit = events.clear()

    def lines(): Seq[String] = events.asScala.toSeq

    def summaries(): Seq[RoundSummary] = lines().flatMap {
      case Summary(round, attempt, sampled, t, summed, dropped) =>
        Some(RoundSummary(round.toInt, attempt.toInt, sampled.toInt, t.toInt, summed.toInt,
          dropped.split(",").map(_.trim).filter(_.nonEmpty).map(_.toInt).toSeq))
      case _ => None
    }
  }
}
