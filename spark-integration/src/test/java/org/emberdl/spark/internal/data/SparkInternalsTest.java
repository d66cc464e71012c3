package org.emberdl.spark.internal.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.rpc.RpcCallContext;
import org.apache.spark.rpc.RpcEndpointRef;
import org.apache.spark.rpc.RpcEnv;
import org.apache.spark.rpc.RpcEnv$;
import org.apache.spark.rpc.ThreadSafeRpcEndpoint;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.emberdl.spark.EmberClassifier;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.TestData;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.stage.StageEndpoint;
import org.emberdl.spark.internal.stage.StageMessages;
import org.emberdl.spark.internal.stage.StageWire;
import org.emberdl.spark.internal.stage.StepExchange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Function1;
import scala.PartialFunction;
import scala.runtime.AbstractPartialFunction;
import scala.runtime.BoxedUnit;

/**
 * Pins the behaviour of the Spark internals Ember relies on, so an upgrade that changes it fails
 * here.
 */
class SparkInternalsTest {
  private final SparkSession spark = SparkTestSession.get();

  @Test
  void internalRowsCarryArrayFloatFeaturesAsUnsafeArrays() {
    Dataset<Row> df = TestData.blobs(spark, 10, 4, 2, 3, 1);
    List<float[]> viaRows =
        df.select("features").collectAsList().stream().map(r -> toFloats(r.getList(0))).toList();
    JavaRDD<float[]> viaInternal =
        SparkInternals.internalRows(df.select("features"))
            .toJavaRDD()
            .map(
                r -> {
                  assertInstanceOf(UnsafeArrayData.class, r.getArray(0));
                  float[] out = new float[4];
                  SparkInternals.copyFloats(r.getArray(0), out, 0, 4);
                  return out;
                });
    List<float[]> internal = viaInternal.collect();
    assertEquals(viaRows.size(), internal.size());
    for (int i = 0; i < internal.size(); i++) {
      assertArrayEquals(viaRows.get(i), internal.get(i));
    }
  }

  @Test
  void copyFloatsReadsUnsafeAndGenericArraysAtAnOffset() {
    float[] values = {1.5f, -2f, 3.25f};
    float[] dst = new float[5];
    SparkInternals.copyFloats(UnsafeArrayData.fromPrimitiveArray(values), dst, 2, 3);
    assertArrayEquals(new float[] {0, 0, 1.5f, -2f, 3.25f}, dst);
    float[] dst2 = new float[3];
    SparkInternals.copyFloats(new GenericArrayData(new Object[] {1.5f, -2f, 3.25f}), dst2, 0, 3);
    assertArrayEquals(values, dst2);
  }

  @Test
  void createDataFrameTurnsInternalRowsIntoADataFrame() {
    StructType schema =
        new StructType()
            .add("a", DataTypes.DoubleType, false)
            .add("b", DataTypes.IntegerType, false);
    List<InternalRow> rows =
        List.of(
            new GenericInternalRow(new Object[] {1.5, 3}),
            new GenericInternalRow(new Object[] {-2.0, 4}));
    var rdd =
        org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext())
            .parallelize(rows, 2);
    Dataset<Row> df = SparkInternals.createDataFrame(spark, rdd.rdd(), schema);
    assertEquals(schema, df.schema());
    assertEquals(
        List.of(1.5, -2.0),
        df.select("a").as(org.apache.spark.sql.Encoders.DOUBLE()).collectAsList());
    assertEquals(7L, df.groupBy().sum("b").first().getLong(0));
  }

  @Test
  void appendedRowsAndDenseVectorsUseCatalystsEncoding() {
    InternalRow input = new GenericInternalRow(new Object[] {7.0});
    InternalRow row =
        SparkInternals.appended(
            input, new Object[] {SparkInternals.denseVector(new double[] {0.25, 0.75}), 1.0});
    assertEquals(3, row.numFields());
    assertEquals(7.0, row.getDouble(0));
    assertEquals(1.0, row.getDouble(2));
    org.apache.spark.ml.linalg.Vector v =
        new org.apache.spark.ml.linalg.VectorUDT().deserialize(row.getStruct(1, 4));
    assertArrayEquals(new double[] {0.25, 0.75}, v.toArray());
  }

  /** FeatureColumn reads vectors in this form: type (0 sparse, 1 dense), size, indices, values. */
  @Test
  void vectorRowsHoldVectorUdtsStruct() {
    InternalRow sparse =
        SparkInternals.vectorRow(
                org.apache.spark.ml.linalg.Vectors.sparse(5, new int[] {1, 3}, new double[] {2, 4}))
            .getStruct(0, 4);
    assertEquals(0, sparse.getByte(0));
    assertEquals(5, sparse.getInt(1));
    assertArrayEquals(new int[] {1, 3}, sparse.getArray(2).toIntArray());
    assertArrayEquals(new double[] {2, 4}, sparse.getArray(3).toDoubleArray());
    InternalRow dense =
        SparkInternals.vectorRow(org.apache.spark.ml.linalg.Vectors.dense(1, 2)).getStruct(0, 4);
    assertEquals(1, dense.getByte(0));
    assertTrue(dense.isNullAt(1) && dense.isNullAt(2));
    assertArrayEquals(new double[] {1, 2}, dense.getArray(3).toDoubleArray());
    assertTrue(SparkInternals.vectorRow(null).isNullAt(0));
  }

  @Test
  void paramsMetadataRoundTripsThroughSparkMlFormat(@TempDir Path dir) throws Exception {
    EmberClassifier clf =
        new EmberClassifier("emberClassifier_pinned")
            .setLayers(new int[] {4, 3})
            .setLearningRate(0.05);
    String path = dir.resolve("stage").toString();
    SparkInternals.saveMetadata(clf, path, spark);
    assertEquals(true, Files.isDirectory(dir.resolve("stage/metadata")));
    var metadata = SparkInternals.loadMetadata(path, spark, EmberClassifier.class.getName());
    assertEquals("emberClassifier_pinned", metadata.uid());
    EmberClassifier loaded = new EmberClassifier(metadata.uid());
    SparkInternals.setParams(metadata, loaded, path + "/metadata");
    assertArrayEquals(new int[] {4, 3}, loaded.getLayers());
    assertEquals(0.05, loaded.getLearningRate());
    assertEquals(128, loaded.getBatchSize());
  }

  private static float[] toFloats(List<Object> list) {
    float[] out = new float[list.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ((Number) list.get(i)).floatValue();
    }
    return out;
  }

  /**
   * The driver endpoint a training stage's tasks talk to, reached from a task through Spark RPC.
   */
  @Test
  void driverEndpointsAnswerTasksThroughSparksRpcEnvironment() throws Exception {
    StepExchange exchange = new StepExchange(1, new RoundWeights(new float[] {4.5f}, new float[0]));
    String name = "ember-internals-test";
    var ref =
        SparkInternals.setupDriverEndpoint(
            name, new StageEndpoint(SparkInternals.rpcEnv(), exchange));
    try {
      List<Float> fromTasks =
          org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext())
              .parallelize(List.of(1), 1)
              .map(
                  i ->
                      StageWire.decode(
                              SparkInternals.ask(
                                      SparkInternals.driverEndpoint(name),
                                      StageWire.encode(new StageMessages.Register(0, 0)),
                                      byte[].class,
                                      10_000)
                                  .get(),
                              StageMessages.Resume.class)
                          .weights()
                          .values()[0])
              .collect();
      assertEquals(List.of(4.5f), fromTasks);
    } finally {
      SparkInternals.stopEndpoint(ref);
    }
    // a task of a stage the driver has given up on fails at once, naming the endpoint
    var e =
        org.junit.jupiter.api.Assertions.assertThrows(
            org.apache.spark.SparkException.class, () -> SparkInternals.driverEndpoint(name));
    assertTrue(
        e.getCause().getMessage().startsWith("Cannot find endpoint: spark://" + name + "@"),
        e.getCause().getMessage());
  }

  /**
   * Pins the answer a training stage's driver serializes once for all its remote tasks ({@link
   * SparkInternals#replySerialized}, through RemoteNettyRpcCallContext's private callback): two
   * asks from another RPC environment (a client, as an executor's is) are answered from one
   * serialized buffer, and each gets the whole answer.
   */
  @Test
  void anAnswerSerializedOnceReachesEveryRemoteAsker() throws Exception {
    SparkEnv env = SparkEnv.get();
    List<RpcCallContext> asks = new CopyOnWriteArrayList<>();
    String name = "ember-internals-shared-answer";
    var ref =
        SparkInternals.setupDriverEndpoint(name, new Collecting(SparkInternals.rpcEnv(), asks));
    RpcEnv client =
        RpcEnv$.MODULE$.create(
            "ember-test-client", "127.0.0.1", 0, env.conf(), env.securityManager(), true);
    try {
      RpcEndpointRef remote = client.setupEndpointRef(SparkInternals.rpcEnv().address(), name);
      var first = SparkInternals.ask(remote, new byte[] {1}, byte[].class, 10_000);
      var second = SparkInternals.ask(remote, new byte[] {2}, byte[].class, 10_000);
      long deadline = System.currentTimeMillis() + 10_000;
      while (asks.size() < 2 && System.currentTimeMillis() < deadline) {
        Thread.sleep(5);
      }
      assertEquals(2, asks.size());
      byte[] answer = new byte[100_000];
      for (int i = 0; i < answer.length; i++) {
        answer[i] = (byte) (i * 31);
      }
      java.nio.ByteBuffer serialized = SparkInternals.serializeAnswer(answer);
      int position = serialized.position();
      for (RpcCallContext ask : asks) {
        assertTrue(SparkInternals.remote(ask), ask.getClass().getName());
        SparkInternals.replySerialized(ask, serialized);
      }
      assertEquals(position, serialized.position(), "sending does not consume the buffer");
      assertArrayEquals(answer, first.get(10, TimeUnit.SECONDS));
      assertArrayEquals(answer, second.get(10, TimeUnit.SECONDS));
    } finally {
      client.shutdown();
      SparkInternals.stopEndpoint(ref);
    }
  }

  /** Keeps every ask's context, answering none. */
  private static final class Collecting implements ThreadSafeRpcEndpoint {
    private final RpcEnv rpcEnv;
    private final List<RpcCallContext> asks;

    Collecting(RpcEnv rpcEnv, List<RpcCallContext> asks) {
      this.rpcEnv = rpcEnv;
      this.asks = asks;
    }

    @Override
    public RpcEnv rpcEnv() {
      return rpcEnv;
    }

    @Override
    public PartialFunction<Object, BoxedUnit> receiveAndReply(RpcCallContext context) {
      return new AbstractPartialFunction<>() {
        @Override
        public boolean isDefinedAt(Object message) {
          return message instanceof byte[];
        }

        @Override
        public <A1, B1> B1 applyOrElse(A1 message, Function1<A1, B1> otherwise) {
          if (!(message instanceof byte[])) {
            return otherwise.apply(message);
          }
          asks.add(context);
          @SuppressWarnings("unchecked")
          B1 unit = (B1) BoxedUnit.UNIT;
          return unit;
        }
      };
    }
  }

  @Test
  void taskSlotsCountsTheCoresOfLocalMode() {
    assertEquals(2, SparkInternals.taskSlots(spark.sparkContext()), "local[2]");
  }

  /**
   * Pins the plan shape {@link SparkInternals#columnar} recognises: Spark 4.1 plans a Parquet scan
   * of {@code array<float>} and scalar columns as ColumnarToRow over a columnar source (the nested
   * column vectorized reader is on by default), with a Project of bare columns when a selection
   * reorders or renames them; its batch rows read as the row path's rows. If a Spark upgrade
   * changes any of this, transform and training silently fall back to rows: this test says so
   * loudly.
   */
  @Test
  void parquetScansYieldColumnarBatchesWhoseRowsCopyToTheRowPathsRows(@TempDir Path dir) {
    String path = dir.resolve("t").toString();
    Dataset<Row> written =
        TestData.blobs(spark, 12, 4, 2, 3, 1).withColumn("id", functions.lit("x"));
    written.coalesce(1).write().parquet(path);
    Dataset<Row> scan = spark.read().parquet(path);
    assertTrue(SparkInternals.batchRowsSupported(scan.schema()), "array<float>, double, string");
    SparkInternals.Columnar c = SparkInternals.columnar(scan);
    assertNotNull(c, "not columnar:\n" + scan.queryExecution().executedPlan());
    assertTrue(c.sameColumns());
    assertArrayEquals(new int[] {0, 1, 2}, c.ordinals());
    List<String> rows =
        SparkInternals.internalRows(scan).toJavaRDD().map(r -> show(r.copy())).collect();
    List<String> fromBatches =
        c.batches()
            .toJavaRDD()
            .flatMap(
                b -> {
                  assertInstanceOf(
                      org.apache.spark.sql.types.ArrayType.class, b.column(0).dataType());
                  List<String> out = new java.util.ArrayList<>();
                  org.apache.spark.sql.vectorized.ColumnVector[] columns =
                      SparkInternals.columns(b);
                  for (int i = 0; i < b.numRows(); i++) {
                    out.add(show(SparkInternals.rowView(columns, i)));
                  }
                  return out.iterator();
                })
            .collect();
    assertEquals(12, rows.size());
    assertEquals(rows, fromBatches);

    // A reordering, renaming selection maps each column to its batch column.
    SparkInternals.Columnar reordered =
        SparkInternals.columnar(
            scan.select(functions.col("label").as("y"), functions.col("features")));
    assertNotNull(reordered);
    assertFalse(reordered.sameColumns());
    assertArrayEquals(new int[] {1, 0}, reordered.ordinals());
    // Computed columns, filters and in-memory data are not a columnar source.
    assertNull(SparkInternals.columnar(scan.select(functions.col("label").plus(1))));
    assertNull(SparkInternals.columnar(scan.filter("label > 0")));
    assertNull(SparkInternals.columnar(TestData.blobs(spark, 4, 4, 2, 3, 1)));
    // Types whose batch rows do not copy intact send transform to the row path.
    assertFalse(
        SparkInternals.batchRowsSupported(
            new StructType()
                .add("m", DataTypes.createMapType(DataTypes.StringType, DataTypes.IntegerType))));
    assertFalse(
        SparkInternals.batchRowsSupported(
            new StructType().add("s", new StructType().add("a", DataTypes.StringType))));
  }

  private static String show(InternalRow r) {
    return java.util.Arrays.toString(r.getArray(0).toFloatArray())
        + " "
        + r.getDouble(1)
        + " "
        + r.getUTF8String(2);
  }
}
