package org.emberdl.cluster

import java.io.{File, IOException}
import java.net.{HttpURLConnection, InetAddress, Proxy, ServerSocket, URL}
import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Paths}
import java.util.concurrent.TimeUnit

import scala.collection.mutable
import scala.concurrent.duration._
import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import org.slf4j.LoggerFactory

/**
 * A real Spark standalone cluster on 127.0.0.1: one Master and two Workers (one core, 2 GB each),
 * each its own JVM started from a SPARK_HOME-like directory whose `jars/` links to the Spark jars
 * of this JVM's classpath (SPARK-NOTES section 3). `submit` runs `SparkSubmit` in client mode in a
 * further JVM with that Spark-only classpath, so Ember's classes come from the examples' shaded
 * jar only, as for a user. Every process it starts is stopped by `stop()` (and by a shutdown hook
 * if the JVM exits first).
 */
final class StandaloneCluster private (val dir: File) {
  import StandaloneCluster._

  /** The SPARK_HOME of every process here: `jars/` only. */
  val home: File = new File(dir, "spark-home")
  val masterPort: Int = freePort()
  val masterUiPort: Int = freePort()
  def masterUrl: String = s"spark://$Host:$masterPort"

  /** Where the driver JVMs log; INFO from Ember (checkpoint resumes, for one), WARN from the rest. */
  val driverLog4j: File = new File(dir, "log4j2-driver.properties")

  private val started = mutable.ArrayBuffer.empty[(String, Process)]
  private val hook = new Thread(() => stop(), "standalone-cluster-stop")
  @volatile private var stopped = false

  /** Each process's name and log file, for the log tails of a failure. */
  private val logs = mutable.LinkedHashMap.empty[String, File]

  private def launch(name: String, cmd: Seq[String], log: File, env: Map[String, String]): Process = {
    val pb = new ProcessBuilder(cmd.asJava).redirectErrorStream(true).redirectOutput(log)
    pb.directory(dir)
    env.foreach { case (k, v) => pb.environment().put(k, v) }
    synchronized {
      require(!stopped, "the cluster is stopped")
      val p = pb.start()
      started += name -> p
      logs(name) = log
      p
    }
  }

  private def daemonEnv: Map[String, String] = Map(
    "SPARK_HOME" -> home.getPath,
    // Without it the Worker cannot build an executor command ("Cannot find any build directories").
    "SPARK_SCALA_VERSION" -> "2.13",
    "SPARK_LOCAL_IP" -> Host,
    "SPARK_LOCAL_DIRS" -> new File(dir, "local").getPath)

  /** java.io.tmpdir of every JVM here: a killed driver leaves its `spark-*` temp dir behind. */
  private val tmp = new File(dir, "tmp")

  private def jvm(heap: String, extra: Seq[String] = Nil): Seq[String] =
    Seq(ClusterSupport.javaBin) ++ ClusterSupport.jvmOpens ++ Seq(s"-Xmx$heap", s"-Djava.io.tmpdir=$tmp") ++
      extra ++ Seq("-cp", new File(home, "jars").getPath + File.separator + "*")

  private def startDaemons(workers: Int, timeout: FiniteDuration): Unit = {
    val jars = linkSparkJars(new File(home, "jars"))
    Files.createDirectories(new File(dir, "local").toPath)
    Files.createDirectories(tmp.toPath)
    writeDriverLog4j()
    log.warn(s"[standalone] SPARK_HOME $home with $jars jars; master $masterUrl, web UI port $masterUiPort")
    launch(
      "master",
      jvm("512m", Seq("-Dspark.master.rest.enabled=false")) ++ Seq(
        "org.apache.spark.deploy.master.Master",
        "--host", Host, "--port", masterPort.toString, "--webui-port", masterUiPort.toString),
      new File(dir, "master.log"),
      daemonEnv)
    for (w <- 1 to workers) {
      val workDir = new File(dir, s"worker$w")
      Files.createDirectories(workDir.toPath)
      launch(
        s"worker$w",
        jvm("512m") ++ Seq(
          "org.apache.spark.deploy.worker.Worker",
          "--host", Host, "--cores", "1", "--memory", "2g",
          "--webui-port", freePort().toString, "--work-dir", workDir.getPath, masterUrl),
        new File(dir, s"worker$w.log"),
        daemonEnv)
    }
    awaitCondition(s"$workers workers registered with the master", timeout) {
      aliveWorkers() == workers
    }
  }

  /** Polls `cond` every half second; fails with the logs' tails when a daemon dies or on timeout. */
  def awaitCondition(what: String, timeout: FiniteDuration)(cond: => Boolean): Unit = {
    val deadline = timeout.fromNow
    var ok = false
    while (!ok) {
      ok = try cond catch { case _: IOException => false }
      if (!ok) {
        val dead = synchronized(started.toList).collect {
          case (name, p) if isDaemon(name) && !p.isAlive => s"$name (exit ${p.exitValue()})"
        }
        if (dead.nonEmpty)
          throw new IllegalStateException(s"waiting for $what: ${dead.mkString(", ")} died\n$logTails")
        if (deadline.isOverdue())
          throw new IllegalStateException(s"timed out after $timeout waiting for $what\n$logTails")
        Thread.sleep(500)
      }
    }
  }

  private def isDaemon(name: String): Boolean = name == "master" || name.startsWith("worker")

  /** The Master's state as JSON (its web UI's `/json/`). */
  def masterJson(): String = {
    val c = new URL(s"http://$Host:$masterUiPort/json/").openConnection(Proxy.NO_PROXY)
      .asInstanceOf[HttpURLConnection]
    c.setConnectTimeout(2000)
    c.setReadTimeout(5000)
    try new String(c.getInputStream.readAllBytes(), StandardCharsets.UTF_8)
    finally c.disconnect()
  }

  /** Workers the Master counts as alive. */
  def aliveWorkers(): Int =
    """"aliveworkers"\s*:\s*(\d+)""".r.findFirstMatchIn(masterJson()).map(_.group(1).toInt).getOrElse(0)

  /** True when the Master runs no application. */
  def noActiveApps(): Boolean = """"activeapps"\s*:\s*\[\s*\]""".r.findFirstIn(masterJson()).isDefined

  /**
   * Starts `SparkSubmit` (client mode, so this child JVM is the driver) on the cluster with the
   * examples' shaded jar and `args` for `EmberCli`, stdout and stderr to `logFile`.
   */
  def submit(args: Seq[String], logFile: File, driverMemory: String = "1g"): Process =
    launch(
      s"submit:${logFile.getName}",
      jvm(driverMemory, Seq(s"-Dlog4j2.configurationFile=${driverLog4j.getPath}")) ++ Seq(
        "org.apache.spark.deploy.SparkSubmit",
        "--master", masterUrl, "--deploy-mode", "client",
        "--conf", s"spark.driver.host=$Host", "--conf", s"spark.driver.bindAddress=$Host",
        "--conf", "spark.ui.enabled=false",
        "--executor-memory", "1g", "--total-executor-cores", "2",
        "--class", "org.emberdl.examples.EmberCli", ClusterSupport.examplesJar.getPath) ++ args,
      logFile,
      daemonEnv)

  /** The last lines of every log: the daemons', the drivers' and the executors'. */
  def logTails: String = {
    val executorLogs = (1 to 8).map(w => new File(dir, s"worker$w")).filter(_.isDirectory).flatMap { w =>
      val s = Files.walk(w.toPath)
      try s.iterator().asScala.map(_.toFile).filter(f => f.isFile && f.getName == "stderr").toList
      finally s.close()
    }
    val all =
      synchronized(logs.toList) ++ executorLogs.map(f => dir.toPath.relativize(f.toPath).toString -> f)
    all.map { case (name, f) => s"---- $name ($f):\n${tail(f, 40)}" }.mkString("\n")
  }

  /** Stops every process started here, newest first: SIGTERM, then SIGKILL after 20 s. */
  def stop(): Unit = {
    val toStop = synchronized {
      stopped = true
      started.toList.reverse
    }
    toStop.foreach { case (name, p) =>
      try {
        val children = p.descendants().iterator().asScala.toList
        if (p.isAlive) {
          p.destroy()
          if (!p.waitFor(20, TimeUnit.SECONDS)) {
            log.warn(s"[standalone] $name (pid ${p.pid()}) ignored SIGTERM; killing it")
            p.destroyForcibly().waitFor(20, TimeUnit.SECONDS)
          }
        }
        children.filter(_.isAlive).foreach { c =>
          log.warn(s"[standalone] killing ${name}'s leftover child pid ${c.pid()}")
          c.destroyForcibly()
          c.onExit().get(20, TimeUnit.SECONDS)
        }
      } catch {
        case NonFatal(e) => log.warn(s"[standalone] stopping $name (pid ${p.pid()}): $e")
      }
    }
    try Runtime.getRuntime.removeShutdownHook(hook)
    catch { case _: IllegalStateException => () } // the JVM is shutting down: the hook is running
  }

  private def writeDriverLog4j(): Unit =
    Files.writeString(
      driverLog4j.toPath,
      """status = warn
        |appender.console.type = Console
        |appender.console.name = console
        |appender.console.target = SYSTEM_ERR
        |appender.console.layout.type = PatternLayout
        |appender.console.layout.pattern = %d{HH:mm:ss.SSS} %-5level %c{1} - %msg%n
        |rootLogger.level = warn
        |rootLogger.appenderRef.console.ref = console
        |logger.ember.name = org.emberdl
        |logger.ember.level = info
        |logger.tasksize.name = org.apache.spark.scheduler.TaskSetManager
        |logger.tasksize.level = error
        |""".stripMargin)
}

object StandaloneCluster {
  private val log = LoggerFactory.getLogger("org.emberdl.cluster")

  val Host = "127.0.0.1"

  /**
   * Starts a Master and `workers` Workers in a fresh `name` directory under the work directory and
   * waits until all are registered. On failure, whatever started is stopped again.
   */
  def start(
      name: String = "standalone",
      workers: Int = 2,
      timeout: FiniteDuration = 3.minutes): StandaloneCluster = {
    val cluster = new StandaloneCluster(ClusterSupport.freshDir(name))
    Runtime.getRuntime.addShutdownHook(cluster.hook)
    try {
      cluster.startDaemons(workers, timeout)
      cluster
    } catch {
      case NonFatal(e) =>
        cluster.stop()
        throw e
    }
  }

  /**
   * Links `jars` to the Spark jars of this JVM's classpath (under Surefire `java.class.path` is the
   * test classpath): every jar but Ember's own, what the shaded jar carries (JavaCPP, OpenBLAS),
   * test libraries, and Arrow's unsafe allocator (Spark ships the netty one). Returns the count.
   */
  def linkSparkJars(jars: File): Int = {
    Files.createDirectories(jars.toPath)
    val entries = sys.props("java.class.path").split(File.pathSeparator).toSeq.filter(isSparkJar).distinct
    val byName = entries.groupBy(e => new File(e).getName)
    byName.foreach { case (name, paths) =>
      Files.createSymbolicLink(new File(jars, name).toPath, Paths.get(paths.head).toAbsolutePath)
    }
    require(byName.keys.exists(_.startsWith("spark-core_")), s"no spark-core jar on the classpath: $entries")
    byName.size
  }

  def isSparkJar(entry: String): Boolean = {
    val e = entry.replace('\\', '/')
    val name = e.substring(e.lastIndexOf('/') + 1)
    val excluded = Seq("/org/emberdl/", "/org/bytedeco/", "/org/junit/", "/org/opentest4j/",
      "/org/apiguardian/", "/org/scalatest/", "/org/scalactic/", "/org/scalatestplus/",
      "/org/apache/maven/surefire/")
    e.endsWith(".jar") && new File(entry).isFile && !excluded.exists(e.contains) &&
    !Seq("ember-", "surefire", "junit", "scalatest", "scalactic", "opentest4j", "arrow-memory-unsafe",
      "javacpp", "openblas").exists(name.startsWith)
  }

  /** A port that was free on 127.0.0.1 a moment ago. */
  def freePort(): Int = {
    val s = new ServerSocket(0, 1, InetAddress.getByName(Host))
    try s.getLocalPort
    finally s.close()
  }

  /** The last `lines` lines of `f` (empty when it does not exist). */
  def tail(f: File, lines: Int): String =
    if (!f.isFile) "" else {
      val all = new String(Files.readAllBytes(f.toPath), StandardCharsets.UTF_8).split("\n", -1)
      all.takeRight(lines).mkString("\n")
    }
}
