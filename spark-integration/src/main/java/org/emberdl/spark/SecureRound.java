package org.emberdl.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.emberdl.federated.Update;
import org.emberdl.federated.secagg.BelowThresholdException;
import org.emberdl.federated.secagg.DistributedGaussianNoise;
import org.emberdl.federated.secagg.FixedPointCodec;
import org.emberdl.federated.secagg.Messages.KeyAdvertisement;
import org.emberdl.federated.secagg.Messages.KeyDirectory;
import org.emberdl.federated.secagg.Messages.ShareBundle;
import org.emberdl.federated.secagg.Messages.SharedKeys;
import org.emberdl.federated.secagg.Messages.UnmaskRequest;
import org.emberdl.federated.secagg.Messages.UnmaskResponse;
import org.emberdl.federated.secagg.Randomness;
import org.emberdl.federated.secagg.SecureAggregationParameters;
import org.emberdl.federated.secagg.SecureAggregationServer;
import org.emberdl.federated.secagg.SecureSum;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's side of one federated round under secure aggregation ({@code
 * secureAggregation=true}): the sampled clients' updates are summed by the protocol of Bonawitz et
 * al. 2017 ({@code org.emberdl.federated.secagg}), one Spark job per protocol step (advertise keys,
 * share keys, train and mask, unmask), so the driver learns the sum of the surviving clients'
 * updates and nothing about any one of them.
 *
 * <p>What a client sends into the sum: FedAvg/FedProx send {@code (n_k / n_max) delta_k}, their
 * weighted buffers likewise, and {@code n_k / n_max} as one last coordinate (the sum's weight);
 * {@code n_max} bounds every client's row count, so every coordinate stays within the fixed-point
 * range {@value #FEDAVG_RANGE}. DP-FedAvg clients send their delta clipped to S plus their share of
 * the noise ({@link DistributedGaussianNoise}, calibrated for {@code t} clients, so the sum of the
 * at least {@code t} survivors of any completed round carries at least {@code N(0, z^2 S^2)}).
 *
 * <p>The threshold is {@code t = max(2, ceil(2m / 3))} of the round's {@code m} sampled clients: a
 * round survives a third of its clients dropping out, and the server together with fewer than
 * {@code t} clients learns nothing beyond the sum. When fewer than {@code t} clients survive, the
 * round is run again with fresh keys (up to three attempts in all), then the fit fails.
 *
 * <p>Small rounds. A round of one client cannot be masked: the sum <em>is</em> its update. So
 * {@link #checkExpectedSample} refuses, at fit, settings that sample fewer than two clients per
 * round (FedAvg's fixed count, DP-FedAvg's expectation {@code qK}); and a round that still samples
 * exactly one client (DP-FedAvg's Poisson sampling can) is skipped: no client trains, nothing is
 * sent, the weights and the server optimizer stay, and a WARN says so. Only with {@code
 * allowUnmaskedSmallRounds} does the lone client send its update unmasked (under DP with the whole
 * noise added first, so the driver sees exactly what the sampled Gaussian mechanism releases), with
 * a WARN every such round. A round with no client sums to zero (plus, under DP, noise the driver
 * draws).
 *
 * <p>Not secret: which clients were sampled and survived, and the per-partition training metrics
 * (loss, accuracy, example counts) used for the progress log.
 */
final class SecureRound {
  private static final Logger LOG = LoggerFactory.getLogger(SecureRound.class);

  /** FedAvg's fixed-point range: weighted delta coordinates beyond it fail the round. */
  static final double FEDAVG_RANGE = 1024;

  /** Standard deviations of a client's noise share the DP range covers (~1.5e-23 to exceed). */
  private static final double NOISE_SIGMAS = 10;

  /**
   * Attempts of a round before the fit fails. A retry starts the protocol afresh wherever Spark now
   * runs each partition, which is what recovers from an executor lost mid-round.
   */
  private static final int ATTEMPTS = 3;

  /** The least threshold of any round ({@code t = max(2, ceil(2m / 3))}). */
  static final int MIN_THRESHOLD = 2;

  /**
   * The settings fixed for one fit.
   *
   * @param maxClientRows an upper bound on any client's training rows ({@code n_max})
   * @param noiseMultiplier DP-FedAvg's z (ignored for FedAvg)
   * @param clipNorm DP-FedAvg's S (ignored for FedAvg)
   * @param allowUnmaskedSmallRounds whether a round of one client sends its update unmasked (else
   *     the round is skipped)
   */
  record Plan(
      boolean dp,
      long maxClientRows,
      double noiseMultiplier,
      double clipNorm,
      boolean allowUnmaskedSmallRounds)
      implements Serializable {}

  /** A protocol step's work on one partition. */
  private interface PartitionTask<T> extends Serializable {
    List<T> apply(PartitionData data);
  }

  private SecureRound() {}

  /**
   * Refuses settings whose rounds sample fewer clients than the protocol's least threshold (2): the
   * fixed {@code max(1, round(clientFraction K))} of fedavg/fedprox, or dp-fedavg's expected {@code
   * clientFraction K}.
   *
   * @param clients K, the number of federated clients
   * @throws IllegalArgumentException naming the aggregation, clientFraction, K and the fraction
   *     needed
   */
  static void checkExpectedSample(String aggregation, double clientFraction, int clients) {
    boolean poisson = aggregation.equals("dp-fedavg");
    double perRound =
        poisson ? clientFraction * clients : Math.max(1, Math.round(clientFraction * clients));
    if (perRound >= MIN_THRESHOLD) {
      return;
    }
    String needed =
        clients < MIN_THRESHOLD
            ? "use at least " + MIN_THRESHOLD + " clients"
            : String.format(
                "raise clientFraction to at least %.4g or use more clients",
                (double) MIN_THRESHOLD / clients);
    throw new IllegalArgumentException(
        String.format(
            "secureAggregation needs at least %d clients per round (one client's update cannot be"
                + " masked), but aggregation=%s with clientFraction=%s and %d clients samples %s"
                + " per round: %s",
            MIN_THRESHOLD,
            aggregation,
            clientFraction,
            clients,
            poisson
                ? String.format("%.4g clients in expectation", perRound)
                : String.format("%d client%s", (long) perRound, perRound == 1 ? "" : "s"),
            needed));
  }

  /**
   * Runs global round {@code round} over the {@code sampled} clients; the sum as an Update, or null
   * when the round is skipped (one client sampled and {@code allowUnmaskedSmallRounds} off).
   */
  static Update run(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      TrainingConfig config,
      RoundWeights weights,
      long round,
      boolean[] sampled,
      Plan plan) {
    int m = 0;
    for (boolean s : sampled) {
      m += s ? 1 : 0;
    }
    if (m == 0) {
      return nobody(config, weights, plan);
    }
    if (m == 1) {
      if (!plan.allowUnmaskedSmallRounds()) {
        LOG.warn(
            "secure aggregation: round {} sampled a single client, whose update cannot be masked;"
                + " skipping the round (no client trains, the weights stay; set"
                + " allowUnmaskedSmallRounds=true to send it unmasked instead)",
            round + 1);
        return null;
      }
      LOG.warn(
          "secure aggregation: round {} sampled a single client; its update goes to the driver"
              + " UNMASKED{} (allowUnmaskedSmallRounds=true)",
          round + 1,
          plan.dp() ? ", with the whole DP noise added by the client" : "");
      return single(sc, data, config, weights, round, sampled, plan);
    }
    for (int attempt = 1; ; attempt++) {
      String session = config.runKey() + "/round-" + round + "/attempt-" + attempt;
      try {
        return protocol(sc, data, config, weights, round, sampled, plan, m, session);
      } catch (BelowThresholdException e) {
        if (attempt == ATTEMPTS) {
          throw new IllegalStateException(
              "secure aggregation failed in round "
                  + (round + 1)
                  + " after "
                  + ATTEMPTS
                  + " attempts: "
                  + e.getMessage(),
              e);
        }
        LOG.warn("secure aggregation {}: {}; retrying with fresh keys", session, e.getMessage());
      }
    }
  }

  private static Update protocol(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      TrainingConfig config,
      RoundWeights weights,
      long round,
      boolean[] sampled,
      Plan plan,
      int m,
      String session) {
    int t = Math.max(MIN_THRESHOLD, (2 * m + 2) / 3);
    int length = vectorLength(config, weights, plan);
    DistributedGaussianNoise noise =
        plan.dp() ? new DistributedGaussianNoise(plan.noiseMultiplier(), plan.clipNorm(), t) : null;
    double range = plan.dp() ? plan.clipNorm() + NOISE_SIGMAS * noise.perClientStd() : FEDAVG_RANGE;
    SecureAggregationParameters params =
        new SecureAggregationParameters(
            session, t, length, FixedPointCodec.forClients(range, m), noise);
    SecureAggregationServer server = new SecureAggregationServer(params);
    List<Broadcast<?>> broadcasts = new ArrayList<>(); // destroyed when the round ends
    try {
      for (KeyAdvertisement a :
          job(
              sc,
              data,
              session,
              "advertise keys",
              d -> SecureClientTasks.advertise(config.runKey(), params, sampled, d))) {
        server.receiveKeys(a);
      }
      KeyDirectory directory = server.closeAdvertiseKeys();

      Broadcast<KeyDirectory> dir = track(broadcasts, sc.broadcast(directory));
      for (SharedKeys s :
          job(sc, data, session, "share keys", d -> SecureClientTasks.share(dir.value(), d))) {
        server.receiveSharedKeys(s);
      }
      SortedMap<Integer, ShareBundle> bundles = server.closeShareKeys();

      Broadcast<SortedMap<Integer, ShareBundle>> bc = track(broadcasts, sc.broadcast(bundles));
      Broadcast<RoundWeights> w = track(broadcasts, sc.broadcast(weights));
      Update metrics = Update.zero(0, 0);
      for (SecureClientTasks.Masked masked :
          job(
              sc,
              data,
              session,
              "train and mask",
              d ->
                  SecureClientTasks.mask(
                      session,
                      bc.value(),
                      d,
                      k -> contribution(config, w.value(), d, k, round, plan)))) {
        server.receiveMaskedInput(masked.input());
        metrics.add(masked.metrics());
      }
      UnmaskRequest request = server.closeMaskedInput();

      Broadcast<UnmaskRequest> req = track(broadcasts, sc.broadcast(request));
      for (UnmaskResponse r :
          job(sc, data, session, "unmask", d -> SecureClientTasks.unmask(req.value(), d))) {
        server.receiveUnmaskResponse(r);
      }
      SecureSum sum = server.finish();
      LOG.info(
          "secure aggregation {}: {} clients sampled, threshold {}, {} summed, dropped {}",
          session,
          m,
          params.threshold(),
          sum.contributors().size(),
          sum.dropped());
      return decode(sum.values(), metrics, config, weights, plan);
    } finally {
      broadcasts.forEach(b -> b.destroy());
    }
  }

  private static <T> Broadcast<T> track(List<Broadcast<?>> broadcasts, Broadcast<T> b) {
    broadcasts.add(b);
    return b;
  }

  /** A round without contributions: zeros, plus under DP the noise the driver draws. */
  private static Update nobody(TrainingConfig config, RoundWeights weights, Plan plan) {
    Update zero = ClientTrainer.empty(config, weights);
    if (plan.dp()) {
      addNoise(
          zero.values(), new DistributedGaussianNoise(plan.noiseMultiplier(), plan.clipNorm(), 1));
    }
    return zero;
  }

  /** One sampled client: its update travels in the clear (under DP with the whole noise). */
  private static Update single(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      TrainingConfig config,
      RoundWeights weights,
      long round,
      boolean[] sampled,
      Plan plan) {
    Broadcast<RoundWeights> w = sc.broadcast(weights);
    try {
      List<SecureClientTasks.Contribution> results =
          job(
              sc,
              data,
              config.runKey() + "/round-" + round,
              "single client",
              d -> {
                List<SecureClientTasks.Contribution> out = new ArrayList<>();
                for (int k = 0; k < d.clients.length; k++) {
                  if (sampled[d.clients[k]]) {
                    SecureClientTasks.Contribution c =
                        contribution(config, w.value(), d, k, round, plan);
                    if (plan.dp()) {
                      addNoise(
                          c.vector(),
                          new DistributedGaussianNoise(plan.noiseMultiplier(), plan.clipNorm(), 1));
                    }
                    out.add(c);
                  }
                }
                return out;
              });
      if (results.isEmpty()) {
        return nobody(config, weights, plan); // the client has no training rows
      }
      SecureClientTasks.Contribution c = results.get(0);
      return decode(c.vector(), c.metrics(), config, weights, plan);
    } finally {
      w.destroy();
    }
  }

  /** The plain vector client {@code data.clients[k]} puts into the sum. */
  private static SecureClientTasks.Contribution contribution(
      TrainingConfig config,
      RoundWeights weights,
      PartitionData data,
      int k,
      long round,
      Plan plan) {
    Update u =
        PartitionTrainer.withReplica(
            config,
            (engine, model) ->
                PartitionTrainer.clientRound(config, engine, model, weights, data, k, round));
    Update metrics = new Update(new float[0], new float[0], u.examples(), u.lossSum(), u.correct());
    if (plan.dp()) {
      return new SecureClientTasks.Contribution(u.values(), metrics);
    }
    float[] v = u.values();
    float[] b = u.buffers();
    float[] out = new float[v.length + b.length + 1];
    double scale = 1.0 / plan.maxClientRows();
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) (v[i] * scale);
    }
    for (int i = 0; i < b.length; i++) {
      out[v.length + i] = (float) (b[i] * scale);
    }
    out[out.length - 1] = (float) (u.examples() * scale);
    return new SecureClientTasks.Contribution(out, metrics);
  }

  private static int vectorLength(TrainingConfig config, RoundWeights weights, Plan plan) {
    return plan.dp()
        ? weights.values().length
        : weights.values().length + weights.buffers().length + 1;
  }

  /** The summed vector back in the Update layout the aggregator expects. */
  private static Update decode(
      float[] sum, Update metrics, TrainingConfig config, RoundWeights weights, Plan plan) {
    if (plan.dp()) {
      return new Update(
          sum, new float[0], metrics.examples(), metrics.lossSum(), metrics.correct());
    }
    int p = weights.values().length;
    int b = weights.buffers().length;
    float[] values = new float[p];
    float[] buffers = new float[b];
    double scale = plan.maxClientRows();
    for (int i = 0; i < p; i++) {
      values[i] = (float) (sum[i] * scale);
    }
    for (int i = 0; i < b; i++) {
      buffers[i] = (float) (sum[p + i] * scale);
    }
    long examples = Math.round(sum[p + b] * scale);
    return new Update(values, buffers, examples, metrics.lossSum(), metrics.correct());
  }

  private static void addNoise(float[] values, DistributedGaussianNoise noise) {
    double[] n = noise.sample(values.length, Randomness.secure());
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) (values[i] + n[i]);
    }
  }

  /** One Spark job over every partition; the partitions' lists concatenated in partition order. */
  private static <T> List<T> job(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      String session,
      String step,
      PartitionTask<T> task) {
    sc.setJobDescription("Ember secure aggregation " + session + ": " + step);
    List<List<T>> parts =
        data.mapPartitions(it -> Collections.singletonList(task.apply(it.next())).iterator())
            .collect();
    List<T> out = new ArrayList<>();
    parts.forEach(out::addAll);
    return out;
  }
}
