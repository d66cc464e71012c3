package org.emberdl.spark.internal.stage

import java.util.Random

import org.apache.spark.{SparkEnv, TaskContext}
import org.apache.spark.sql.SparkSession
import org.emberdl.cluster.ClusterSupport
import org.emberdl.federated.Update
import org.emberdl.spark.internal.data.SparkBlocks
import org.emberdl.spark.internal.train.Coordinator
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite
import org.slf4j.LoggerFactory

/**
 * BlockAllReduce between two executor JVMs (`local-cluster[2,1,2048]`, one task slot each), where
 * every block a task reads is fetched from the other executor through the block manager master and
 * the block transfer service: each step's sum equals the driver's bit for bit, and no block is left.
 * The session runs with `spark.authenticate` and `spark.network.crypto.enabled` on, as
 * SecureClusterSuite's: the blocks travel over Spark's authenticated, encrypted transport.
 */
class BlockAllReduceClusterSuite extends AnyFunSuite with BeforeAndAfterAll {
  import BlockAllReduceClusterSuite._

  private var spark: SparkSession = _

  override def beforeAll(): Unit =
    spark = ClusterSupport.startLocalCluster(
      "ember-allreduce-cluster",
      Map(
        "spark.authenticate" -> "true",
        "spark.authenticate.secret" -> "ember-cluster-tests-secret",
        "spark.network.crypto.enabled" -> "true"))

  override def afterAll(): Unit = if (spark != null) ClusterSupport.stopLocalCluster(spark)

  test("two executor JVMs all-reduce every step to the driver's sum bit for bit; no block is left") {
    val key = "cluster"
    val out = spark.sparkContext
      .parallelize(0 until 2, 2)
      .barrier()
      .mapPartitions { _ =>
        val reduce = BlockAllReduce.forTask(key, 60000)
        val p = TaskContext.getPartitionId()
        val res = (0 until Steps).map { s =>
          val sum = reduce.allReduce(s, update(p, s))
          Out(p, s, sum.values, sum.buffers, sum.lossSum, SparkEnv.get.executorId)
        }
        reduce.close()
        res.iterator
      }
      .collect()
    assert(out.length == 2 * Steps)
    assert(out.map(_.executor).distinct.length == 2, "the two tasks should run in two executors")
    for (o <- out) {
      val expected = Coordinator.sum(java.util.List.of(update(0, o.step), update(1, o.step)))
      assert(bits(expected.values) sameElements bits(o.values), s"values of step ${o.step}")
      assert(bits(expected.buffers) sameElements bits(o.buffers), s"buffers of step ${o.step}")
      assert(
        java.lang.Double.doubleToRawLongBits(expected.lossSum) ==
          java.lang.Double.doubleToRawLongBits(o.lossSum))
    }
    assert(SparkBlocks.names(BlockAllReduce.prefix(key)).isEmpty)
    assert(spark.conf.get("spark.network.crypto.enabled") == "true")
  }

  test("ms per all-reduce of the MLP's gradient (0.94 MB) between two executor JVMs") {
    val floats = 235146
    val key = "clustertime"
    val times = spark.sparkContext
      .parallelize(0 until 2, 2)
      .barrier()
      .mapPartitions { _ =>
        val p = TaskContext.getPartitionId()
        val values = Array.tabulate(floats)(i => (p + 1) * 1e-3f * (i % 1000))
        val reduce = BlockAllReduce.forTask(key, 60000)
        val ms = (0 until 50).map { s =>
          val t0 = System.nanoTime()
          reduce.allReduce(s, new Update(values, new Array[Float](0), 1, 0, 0))
          (System.nanoTime() - t0) / 1e6
        }
        reduce.close()
        // what one poll for a missing block costs here: a lookup RPC to the driver's master
        val missing = SparkBlocks.id(BlockAllReduce.prefix(key) + "missing")
        val lookups = (0 until 20).map { _ =>
          val t0 = System.nanoTime()
          SparkBlocks.read(missing, true, (b: java.nio.ByteBuffer) => b)
          (System.nanoTime() - t0) / 1e6
        }
        // a put told to the master, a fetch of the peer's 0.47 MB block, a removal told to the master
        val half = java.nio.ByteBuffer.allocate(4 * floats / 2)
        val puts = (0 until 10).map { i =>
          val t0 = System.nanoTime()
          SparkBlocks.put(SparkBlocks.id(BlockAllReduce.prefix(key) + s"p$p-$i"), half, true)
          (System.nanoTime() - t0) / 1e6
        }
        TaskContext.get().asInstanceOf[org.apache.spark.BarrierTaskContext].barrier()
        val fetches = (0 until 10).map { i =>
          val t0 = System.nanoTime()
          val got = SparkBlocks.read(
            SparkBlocks.id(BlockAllReduce.prefix(key) + s"p${1 - p}-$i"),
            true,
            (b: java.nio.ByteBuffer) => b.remaining())
          assert(got == half.capacity())
          (System.nanoTime() - t0) / 1e6
        }
        TaskContext.get().asInstanceOf[org.apache.spark.BarrierTaskContext].barrier()
        val removes = (0 until 10).map { i =>
          val t0 = System.nanoTime()
          SparkBlocks.remove(SparkBlocks.id(BlockAllReduce.prefix(key) + s"p$p-$i"), true)
          (System.nanoTime() - t0) / 1e6
        }
        def median(x: Seq[Double]) = x.sorted.apply(x.length / 2)
        Iterator(
          Seq(median(ms.drop(10)), median(lookups), median(puts), median(fetches), median(removes)))
      }
      .collect()
    def worst(i: Int) = times.map(_(i)).max
    log.warn(
      f"[all-reduce] local-cluster (authenticated, AES), G = 0.94 MB: median ${worst(0)}%.2f ms/step; medians of " +
        f"a lookup of a missing block ${worst(1)}%.2f ms, a put ${worst(2)}%.2f ms, a fetch of " +
        f"0.47 MB ${worst(3)}%.2f ms, a removal ${worst(4)}%.2f ms")
    assert(SparkBlocks.names(BlockAllReduce.prefix(key)).isEmpty)
  }
}

object BlockAllReduceClusterSuite {
  private val log = LoggerFactory.getLogger("org.emberdl.cluster")
  val Steps = 4

  case class Out(
      partition: Int,
      step: Int,
      values: Array[Float],
      buffers: Array[Float],
      lossSum: Double,
      executor: String)

  /** Partition `p`'s known update of step `s`: 1001 values and 6 buffers over many binades. */
  def update(p: Int, s: Int): Update = {
    val r = new Random(7919L * s + p)
    def floats(n: Int) = Array.fill(n)((r.nextGaussian() * math.pow(10, r.nextInt(9) - 4)).toFloat)
    new Update(floats(1001), floats(6), r.nextInt(100), r.nextDouble(), r.nextInt(100))
  }

  def bits(f: Array[Float]): Array[Int] = f.map(java.lang.Float.floatToRawIntBits)
}
