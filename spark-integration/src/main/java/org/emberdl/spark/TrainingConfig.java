package org.emberdl.spark;

import java.io.Serializable;
import org.emberdl.federated.UpdateKind;
import org.emberdl.federated.dp.SecretSampler;

/**
 * Everything a training task needs besides the round's weights, fixed for one {@code fit}.
 *
 * @param runKey identifies the fit in the executors' replica pools
 * @param chunksPerEpoch how many slices each partition's shuffled rows are cut into per epoch; one
 *     slice per partition makes one global batch of about {@code batchSize} rows
 * @param samplingRate DP-SGD's Poisson sampling rate per step (0 when not private)
 * @param clipNorm DP-SGD's per-example clipping norm (0 when not private)
 * @param localEpochs federated averaging: local epochs per round (0 when not federated)
 * @param proximalMu FedProx's proximal weight (0 for FedAvg)
 * @param batchSize the stage's batchSize (a federated client's local mini-batch)
 * @param sampler DP-SGD's secret sampling under secureNoise; null = sampling keyed by seed
 */
record TrainingConfig(
    String runKey,
    NetworkDefinition network,
    TaskKind kind,
    long seed,
    String optimizer,
    double learningRate,
    double momentum,
    double weightDecay,
    int localSteps,
    int chunksPerEpoch,
    UpdateKind updateKind,
    double samplingRate,
    double clipNorm,
    int localEpochs,
    double proximalMu,
    int batchSize,
    SecretSampler sampler)
    implements Serializable {}
