package org.emberdl.spark.internal.stage;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rpc.RpcCallContext;
import org.apache.spark.rpc.RpcEndpointRef;
import org.apache.spark.rpc.RpcEnv;
import org.apache.spark.rpc.ThreadSafeRpcEndpoint;
import org.apache.spark.sql.SparkSession;
import org.emberdl.federated.Update;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.internal.data.SparkInternals;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import scala.Function1;
import scala.PartialFunction;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractPartialFunction;
import scala.runtime.BoxedUnit;

/**
 * Measures one exchange per step of a G-byte update among the 2 tasks of a local[2] barrier stage:
 * {@link BlockAllReduce#allReduce} against the star through a driver endpoint (each task asks the
 * driver with its update as bytes; the driver sums in partition order once both arrived and replies
 * the sum to each, which is what the training stage's driver exchange carries: G in and G out per
 * task). Not a test; run with
 *
 * <pre>
 * mvn -o -q -B -pl spark-integration -am test -Dspotless.check.skip=true \
 *   -Dtest=AllReduceTransportBench -Dsurefire.failIfNoSpecifiedTests=false -Dember.bench=true
 * </pre>
 */
@EnabledIfSystemProperty(named = "ember.bench", matches = "true")
class AllReduceTransportBench {
  private static final int PARTITIONS = 2;
  private static final int WARMUP = 10;
  private static final int STEPS = 40;
  private static final int REPS = 5;

  @Test
  void measure() {
    SparkSession spark = SparkTestSession.get();
    StringBuilder report = new StringBuilder();
    for (int floats : new int[] {235_146, 4_194_304}) {
      for (int rep = 0; rep < REPS; rep++) {
        double blocks = run(spark, "blocks", floats, rep);
        double star = run(spark, "star", floats, rep);
        double shards = run(spark, "shards", floats, rep);
        String line =
            String.format(
                "G = %.2f MB, rep %d: block all-reduce %.3f ms/step, driver star %.3f ms/step,"
                    + " reduce-scatter + driver shards + all-gather %.3f ms/step%n",
                4.0 * floats / 1e6, rep, blocks, star, shards);
        System.out.print(line);
        report.append(line);
      }
    }
    System.out.println("=== all-reduce transport, local[2]\n" + report);
  }

  /** Median ms per step seen by partition 0. */
  private static double run(SparkSession spark, String how, int floats, int rep) {
    String key = how + floats + "r" + rep;
    SumEndpoint endpoint = null;
    RpcEndpointRef ref = null;
    if (!how.equals("blocks")) {
      endpoint = new SumEndpoint(SparkInternals.rpcEnv(), PARTITIONS, how.equals("shards"));
      ref = SparkInternals.setupDriverEndpoint("ember-bench-" + key, endpoint);
    }
    try {
      JavaRDD<Integer> rdd =
          JavaSparkContext.fromSparkContext(spark.sparkContext())
              .parallelize(List.of(0, 1), PARTITIONS);
      Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<double[]>> task =
          (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<double[]>>
                  & Serializable)
              it -> CollectionConverters.asScala(List.of(steps(how, key, floats)).iterator());
      List<double[]> times =
          JavaRDD.fromRDD(
                  rdd.rdd()
                      .barrier()
                      .mapPartitions(task, false, ClassTag$.MODULE$.apply(double[].class)),
                  ClassTag$.MODULE$.apply(double[].class))
              .collect();
      double[] t = times.get(0).clone();
      Arrays.sort(t);
      return t[t.length / 2];
    } finally {
      if (ref != null) {
        SparkInternals.stopEndpoint(ref);
      }
    }
  }

  private static double[] steps(String how, String key, int floats) {
    int p = TaskContext.getPartitionId();
    float[] values = new float[floats];
    for (int i = 0; i < floats; i++) {
      values[i] = (p + 1) * 1e-3f * (i % 1000);
    }
    double[] ms = new double[STEPS];
    if (how.equals("blocks")) {
      try (BlockAllReduce reduce = BlockAllReduce.forTask(key, 60_000)) {
        for (int s = 0; s < WARMUP + STEPS; s++) {
          long t0 = System.nanoTime();
          Update sum = reduce.allReduce(s, new Update(values, new float[0], 1, 0, 0));
          if (s >= WARMUP) {
            ms[s - WARMUP] = (System.nanoTime() - t0) / 1e6;
          }
          if (sum.values().length != floats) {
            throw new AssertionError("short sum");
          }
        }
      }
    } else if (how.equals("shards")) {
      // the design for the stage path: the driver gets each task's shard of the sum (G/P) and
      // answers each with its chunk of the new weights (G/P), which the tasks all-gather
      RpcEndpointRef driver = SparkInternals.driverEndpoint("ember-bench-" + key);
      try (BlockAllReduce reduce = BlockAllReduce.forTask(key, 60_000)) {
        for (int s = 0; s < WARMUP + STEPS; s++) {
          long t0 = System.nanoTime();
          BlockAllReduce.Shard shard =
              reduce.reduceScatter(s, new Update(values, new float[0], 1, 0, 0));
          float[] chunk = askDriver(driver, p, s, shard.sum().floats());
          float[] weights = reduce.allGather(s, "weights", floats, chunk);
          if (s >= WARMUP) {
            ms[s - WARMUP] = (System.nanoTime() - t0) / 1e6;
          }
          if (weights.length != floats) {
            throw new AssertionError("short weights");
          }
        }
      }
    } else {
      RpcEndpointRef driver = SparkInternals.driverEndpoint("ember-bench-" + key);
      for (int s = 0; s < WARMUP + STEPS; s++) {
        long t0 = System.nanoTime();
        ByteBuffer msg =
            ByteBuffer.allocate(8 + 4 * floats).order(ByteOrder.LITTLE_ENDIAN).putInt(p).putInt(s);
        msg.asFloatBuffer().put(values);
        CompletableFuture<byte[]> reply =
            SparkInternals.ask(driver, msg.array(), byte[].class, 60_000);
        float[] sum = new float[floats];
        try {
          ByteBuffer.wrap(reply.get(60, TimeUnit.SECONDS))
              .order(ByteOrder.LITTLE_ENDIAN)
              .asFloatBuffer()
              .get(sum);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        if (s >= WARMUP) {
          ms[s - WARMUP] = (System.nanoTime() - t0) / 1e6;
        }
      }
    }
    return ms;
  }

  private static float[] askDriver(RpcEndpointRef driver, int p, int step, float[] floats) {
    ByteBuffer msg =
        ByteBuffer.allocate(8 + 4 * floats.length)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putInt(p)
            .putInt(step);
    msg.asFloatBuffer().put(floats);
    try {
      ByteBuffer in =
          ByteBuffer.wrap(
                  SparkInternals.ask(driver, msg.array(), byte[].class, 60_000)
                      .get(60, TimeUnit.SECONDS))
              .order(ByteOrder.LITTLE_ENDIAN);
      float[] out = new float[in.remaining() / 4];
      in.asFloatBuffer().get(out);
      return out;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The star: sums the P updates of a step in partition order and replies the sum to each; or, for
   * shards, places the P shards into the whole sum and replies to each task its chunk of it.
   */
  private static final class SumEndpoint implements ThreadSafeRpcEndpoint {
    private final RpcEnv rpcEnv;
    private final int partitions;
    private final boolean shards;
    private final float[][] got;
    private final RpcCallContext[] waiting;
    private int received;

    SumEndpoint(RpcEnv rpcEnv, int partitions, boolean shards) {
      this.rpcEnv = rpcEnv;
      this.partitions = partitions;
      this.shards = shards;
      this.got = new float[partitions][];
      this.waiting = new RpcCallContext[partitions];
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
          ByteBuffer in = ByteBuffer.wrap((byte[]) message).order(ByteOrder.LITTLE_ENDIAN);
          int p = in.getInt();
          in.getInt(); // step
          float[] f = new float[in.remaining() / 4];
          in.asFloatBuffer().get(f);
          got[p] = f;
          waiting[p] = context;
          if (++received == partitions && shards) {
            int length = 0;
            for (float[] g : got) {
              length += g.length;
            }
            UpdateChunks chunks = new UpdateChunks(length, 0, partitions);
            float[] whole = new float[length];
            for (int q = 0; q < partitions; q++) {
              System.arraycopy(got[q], 0, whole, chunks.start(q), got[q].length);
            }
            for (int q = 0; q < partitions; q++) {
              float[] chunk = chunks.chunk(whole, new float[0], q);
              ByteBuffer out = ByteBuffer.allocate(4 * chunk.length).order(ByteOrder.LITTLE_ENDIAN);
              out.asFloatBuffer().put(chunk);
              waiting[q].reply(out.array());
            }
            received = 0;
            Arrays.fill(got, null);
          } else if (received == partitions) {
            float[] sum = new float[f.length];
            for (float[] g : got) {
              for (int i = 0; i < sum.length; i++) {
                sum[i] += g[i];
              }
            }
            ByteBuffer out = ByteBuffer.allocate(4 * sum.length).order(ByteOrder.LITTLE_ENDIAN);
            out.asFloatBuffer().put(sum);
            byte[] reply = out.array();
            List<RpcCallContext> all = new ArrayList<>(Arrays.asList(waiting));
            received = 0;
            Arrays.fill(got, null);
            for (RpcCallContext c : all) {
              c.reply(reply);
            }
          }
          @SuppressWarnings("unchecked")
          B1 unit = (B1) BoxedUnit.UNIT;
          return unit;
        }
      };
    }
  }
}
