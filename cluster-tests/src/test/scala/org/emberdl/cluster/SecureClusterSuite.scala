package org.emberdl.cluster

import java.util.Arrays

import org.apache.spark.sql.SparkSession
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

/**
 * The end-to-end fit on two executor JVMs with Spark's security switched on: RPC authentication,
 * AES encryption of the network traffic (broadcast weights and returned updates included) and
 * encryption of the shuffle and spill files.
 */
class SecureClusterSuite extends AnyFunSuite with BeforeAndAfterAll {
  private var spark: SparkSession = _

  private val security = Map(
    "spark.authenticate" -> "true",
    "spark.authenticate.secret" -> "ember-cluster-tests-secret",
    "spark.network.crypto.enabled" -> "true",
    "spark.io.encryption.enabled" -> "true")

  override def beforeAll(): Unit = {
    assume(Reference.dataAvailable, "Fashion-MNIST is not installed (scripts/setup.sh installs it)")
    Reference.run
    spark = ClusterSupport.startLocalCluster("ember-secure-cluster", security)
  }

  override def afterAll(): Unit = if (spark != null) ClusterSupport.stopLocalCluster(spark)

  test("authentication, network and I/O encryption on: same weights and accuracy as local[2]") {
    val conf = spark.sparkContext.getConf
    security.keys.foreach(k => assert(conf.get(k) == security(k), k))
    assert(ClusterSupport.executorPids(spark).size == 2)

    val ref = Reference.run
    val model = ClusterSupport.timed("secure local-cluster: fit") {
      Reference.classifier().fit(spark.read.parquet(ref.train))
    }
    assert(Arrays.equals(model.weights(), ref.weights), "weights differ from the local[2] run")
    val accuracy = ClusterSupport.timed("secure local-cluster: score") {
      Reference.accuracy(model, spark.read.parquet(ref.test))
    }
    assert(math.abs(accuracy - ref.accuracy) < 1e-12, s"accuracy $accuracy vs ${ref.accuracy}")
  }

  test("spark.ember.stageReduce=tasks with authentication and encryption: the local[2] weights") {
    // The tasks exchange their chunks of each step's sum as blocks over Spark's block transfer
    // service, which spark.authenticate and spark.network.crypto.enabled protect.
    val ref = Reference.run
    spark.conf.set("spark.ember.stageReduce", "tasks")
    try {
      val model = ClusterSupport.timed("secure local-cluster: fit, tasks reduce") {
        Reference.classifier().setExecutionMode("stage").fit(spark.read.parquet(ref.train))
      }
      assert(Arrays.equals(model.weights(), ref.weights), "weights differ from the local[2] run")
    } finally spark.conf.unset("spark.ember.stageReduce")
  }
}
