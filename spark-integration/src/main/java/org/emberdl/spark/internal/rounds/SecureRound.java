package org.emberdl.spark.internal.rounds;

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
import org.emberdl.federated.secagg.Messages.MaskedInput;
import org.emberdl.federated.secagg.Messages.ShareBundle;
import org.emberdl.federated.secagg.Messages.SharedKeys;
import org.emberdl.federated.secagg.Messages.UnmaskRequest;
import org.emberdl.federated.secagg.Messages.UnmaskResponse;
import org.emberdl.federated.secagg.Randomness;
import org.emberdl.federated.secagg.SecureAggregationParameters;
import org.emberdl.federated.secagg.SecureAggregationServer;
import org.emberdl.federated.secagg.SecureSum;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.local.ClientTrainer;
import org.emberdl.spark.internal.local.PartitionTrainer;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.Aggregation;
import org.emberdl.spark.internal.train.TrainingConfig;
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
 * weighted buffers likewise, and {@code n_k / n_max} as a coordinate after them (the sum's weight);
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
 * <p>Metrics. Every client appends its example count, loss sum and correct count (scaled into the
 * range) to the vector it masks, so the driver learns them only as the round's sums, which is what
 * the progress log and the epoch metrics show. Under DP-FedAvg the clients' noise covers the update
 * only: the metric sums are exact, not differentially private (like the training loss Opacus
 * reports); the model is what the accountant's epsilon covers.
 *
 * <p>Not secret: which clients were sampled and which survived (the driver samples them and runs
 * the protocol), and the sums above.
 */
public final class SecureRound {
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

  /** Metrics each client appends to its update: example count, loss sum, correct count. */
  private static final int METRICS = 3;

  /**
   * The loss sum joins the sum divided by this, so that a mean loss up to 2^20 per example stays
   * within the range (a larger one fails the round, naming the value and the range).
   */
  private static final double LOSS_SCALE = 0x1p20;

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
  public record Plan(
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
  public static void checkExpectedSample(
      Aggregation aggregation, double clientFraction, int clients) {
    boolean poisson = aggregation == Aggregation.DP_FEDAVG;
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
   * Says at fit, under DP-FedAvg's Poisson sampling, how often a round will sample exactly one
   * client ({@code K q (1 - q)^(K-1)} per round) and what happens to those rounds, so that the user
   * can raise {@code clientFraction} where that is frequent.
   */
  public static void warnOfLoneClientRounds(
      Aggregation aggregation, double q, int clients, int rounds, boolean allowUnmasked) {
    double perRound = clients * q * Math.pow(1 - q, clients - 1);
    if (aggregation != Aggregation.DP_FEDAVG || perRound * rounds < 1e-3) {
      return;
    }
    LOG.warn(
        "secure aggregation: a dp-fedavg round samples exactly one of {} clients with probability"
            + " {} (about {} of {} rounds); such a round is {}",
        clients,
        String.format("%.3g", perRound),
        String.format("%.2g", perRound * rounds),
        rounds,
        allowUnmasked
            ? "sent unmasked, with the whole noise added by the client"
            : "skipped and still charged to the accountant, whose sampled Gaussian analysis"
                + " assumes every sampled client is summed (raise clientFraction to make such"
                + " rounds rare)");
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
    // the noise covers the update, not the metrics summed after it (their sum is exact)
    SecureAggregationParameters params =
        new SecureAggregationParameters(
            session, t, length, FixedPointCodec.forClients(range, m), noise, length - METRICS);
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
      for (MaskedInput masked :
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
        server.receiveMaskedInput(masked);
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
      return decode(sum.values(), weights, plan);
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
          zero.values(),
          zero.values().length,
          new DistributedGaussianNoise(plan.noiseMultiplier(), plan.clipNorm(), 1));
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
      List<float[]> results =
          job(
              sc,
              data,
              config.runKey() + "/round-" + round,
              "single client",
              d -> {
                List<float[]> out = new ArrayList<>();
                for (int k = 0; k < d.clients.length; k++) {
                  if (sampled[d.clients[k]]) {
                    float[] c = contribution(config, w.value(), d, k, round, plan);
                    if (plan.dp()) {
                      addNoise(
                          c,
                          c.length - METRICS,
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
      return decode(results.get(0), weights, plan);
    } finally {
      w.destroy();
    }
  }

  /**
   * The plain vector client {@code data.clients[k]} puts into the sum: its update, then its {@value
   * #METRICS} metrics (example count, loss sum, correct count), each scaled into the codec's range
   * ({@link #metricScale}; the loss sum also by {@code 1 / LOSS_SCALE}).
   */
  private static float[] contribution(
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
    float[] v = u.values();
    float[] b = plan.dp() ? new float[0] : u.buffers();
    float[] out = new float[v.length + b.length + METRICS];
    // FedAvg sends n_k / n_max times its delta and buffers (the sum's weights); DP-FedAvg its
    // clipped delta as it is
    double scale = plan.dp() ? 1 : 1.0 / plan.maxClientRows();
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) (v[i] * scale);
    }
    for (int i = 0; i < b.length; i++) {
      out[v.length + i] = (float) (b[i] * scale);
    }
    double m = metricScale(plan);
    int at = v.length + b.length;
    out[at] = (float) (u.examples() * m);
    out[at + 1] = (float) (u.lossSum() * m / LOSS_SCALE);
    out[at + 2] = (float) (u.correct() * m);
    return out;
  }

  /**
   * What a client's metrics are multiplied by before they join the sum: {@code 1 / n_max} under
   * FedAvg, {@code S / n_max} under DP-FedAvg, so that a client's count (at most {@code n_max}) and
   * mean loss up to {@code LOSS_SCALE} stay within the range the update's coordinates need anyway.
   */
  private static double metricScale(Plan plan) {
    return (plan.dp() ? plan.clipNorm() : 1.0) / plan.maxClientRows();
  }

  private static int vectorLength(TrainingConfig config, RoundWeights weights, Plan plan) {
    return plan.dp()
        ? weights.values().length + METRICS
        : weights.values().length + weights.buffers().length + METRICS;
  }

  /** The summed vector back in the Update layout the aggregator expects. */
  private static Update decode(float[] sum, RoundWeights weights, Plan plan) {
    int p = weights.values().length;
    int b = plan.dp() ? 0 : weights.buffers().length;
    float[] values = new float[p];
    float[] buffers = new float[b];
    double scale = plan.dp() ? 1 : plan.maxClientRows();
    for (int i = 0; i < p; i++) {
      values[i] = (float) (sum[i] * scale);
    }
    for (int i = 0; i < b; i++) {
      buffers[i] = (float) (sum[p + i] * scale);
    }
    double m = metricScale(plan);
    long examples = Math.round(sum[p + b] / m);
    double lossSum = (double) sum[p + b + 1] / m * LOSS_SCALE;
    long correct = Math.round(sum[p + b + 2] / m);
    return new Update(values, buffers, examples, lossSum, correct);
  }

  /** Adds noise to the first {@code length} values (the update, not the metrics after it). */
  private static void addNoise(float[] values, int length, DistributedGaussianNoise noise) {
    double[] n = noise.sample(length, Randomness.secure());
    for (int i = 0; i < length; i++) {
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
