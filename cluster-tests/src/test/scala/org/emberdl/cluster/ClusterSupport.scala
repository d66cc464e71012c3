package org.emberdl.cluster

import java.io.File
import java.nio.file.{Files, Path}

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.SparkSession
import org.slf4j.LoggerFactory

/**
 * What every cluster suite shares: the JVM flags Spark needs on Java 17, the work directory, the
 * examples' spark-submit jar, sessions on loopback, and a log of where the time goes.
 */
object ClusterSupport {
  private val log = LoggerFactory.getLogger("org.emberdl.cluster")

  /** Spark's module opens (the parent pom's `ember.jvm.opens`), for every JVM we start. */
  val jvmOpens: Seq[String] =
    sys.props.getOrElse("ember.jvm.opens", "").split("\\s+").toSeq.filter(_.nonEmpty)

  /** Scratch space under target/, emptied per suite by `freshDir`. */
  val workDir: File =
    new File(sys.props.getOrElse("ember.cluster.work", "target/cluster-work")).getAbsoluteFile

  /** The examples module's shaded jar (Ember without Spark), what users spark-submit. */
  lazy val examplesJar: File = {
    val jar = new File(sys.props.getOrElse("ember.examples.jar", "")).getAbsoluteFile
    require(jar.isFile, s"the examples jar $jar is missing; build it with mvn package -pl examples -am")
    jar
  }

  val javaBin: String = new File(sys.props("java.home"), "bin/java").getPath

  /** An empty directory `name` under the work directory. */
  def freshDir(name: String): File = {
    val dir = new File(workDir, name)
    if (dir.exists()) deleteRecursively(dir.toPath)
    Files.createDirectories(dir.toPath)
    dir
  }

  def deleteRecursively(path: Path): Unit =
    if (Files.exists(path)) {
      val stream = Files.walk(path)
      try stream.iterator().asScala.toSeq.reverse.foreach(p => Files.deleteIfExists(p))
      finally stream.close()
    }

  /** Runs `body`, logging how long `what` took (the module's time budget is 15 minutes). */
  def timed[T](what: String)(body: => T): T = {
    val start = System.nanoTime()
    try body
    finally log.warn(f"[cluster-tests time] $what: ${(System.nanoTime() - start) / 1e9}%.1f s")
  }

  /** The common session settings: loopback only, no UI, quiet. */
  def builder(master: String, appName: String): SparkSession.Builder =
    SparkSession
      .builder()
      .master(master)
      .appName(appName)
      .config("spark.ui.enabled", "false")
      .config("spark.driver.host", "127.0.0.1")
      .config("spark.driver.bindAddress", "127.0.0.1")
      .config("spark.sql.shuffle.partitions", "2")

  /**
   * A `local-cluster[2,1,2048]` session: two executor JVMs of one core each, launched by in-process
   * Workers (Spark's own multi-process test master; SPARK-NOTES section 2). With `spark.testing`
   * set, the executors get this JVM's classpath, so Ember's classes need no jar here.
   */
  def startLocalCluster(appName: String, conf: Map[String, String] = Map.empty): SparkSession = {
    val home = new File(workDir, "fake-spark-home")
    Files.createDirectories(new File(home, "jars").toPath)
    Files.createDirectories(new File(home, "launcher/target/scala-2.13").toPath)
    System.setProperty("spark.testing", "1")
    System.setProperty("spark.test.home", home.getPath)
    val b = builder("local-cluster[2,1,2048]", appName)
      .config("spark.executor.memory", "1g")
      // A training stage that stalls fails with Ember's message (naming the partitions it waits
      // for) well before a suite's own timeout, instead of after the 10-minute default.
      .config("spark.ember.stageTimeout", "3min")
    conf.foreach { case (k, v) => b.config(k, v) }
    val spark = timed(s"$appName: local-cluster session")(b.getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    spark
  }

  /** Stops a local-cluster session (its executor JVMs exit with it) and clears the test switches. */
  def stopLocalCluster(spark: SparkSession): Unit = {
    try spark.stop()
    finally {
      System.clearProperty("spark.testing")
      System.clearProperty("spark.test.home")
    }
  }

  /** The process ids of the JVMs that run this session's tasks (one task per core, four rounds). */
  def executorPids(spark: SparkSession): Set[Long] =
    spark.sparkContext
      .parallelize(0 until 8, 8)
      .map(_ => ProcessHandle.current().pid())
      .collect()
      .toSet
}
