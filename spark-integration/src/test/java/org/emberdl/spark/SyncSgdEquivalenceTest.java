package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.types.StructType;
import org.emberdl.autograd.Tensor;
import org.emberdl.federated.MeanGradientAggregator;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.federated.UpdateKind;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.spark.internal.data.FeatureColumn;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.local.PartitionTrainer;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.OptimizerName;
import org.emberdl.spark.internal.plan.TaskKind;
import org.emberdl.spark.internal.train.Coordinator;
import org.emberdl.spark.internal.train.TrainingConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The heart of synchronous SGD: the driver's step from two partitions' gradient sums equals the
 * gradient one process computes on the union of their rows with a mean-reduced loss.
 */
class SyncSgdEquivalenceTest {
  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  @Test
  void meanOfPartitionGradientSumsIsTheFullBatchGradient() {
    List<float[][]> points = TestData.blobPoints(40, 8, 3, 5);
    List<float[][]> first = points.subList(0, 17);
    List<float[][]> second = points.subList(17, 40);
    StructType schema = TestData.FLOAT_ARRAY_SCHEMA;
    FeatureColumn features = FeatureColumn.of(schema, "features", 8);
    PartitionData.RowSpec rowSpec =
        new PartitionData.RowSpec(features, "label", TaskKind.CLASSIFICATION, 3, 0, 1, false, -1);
    PartitionData p0 = PartitionData.read(rows(first), rowSpec, 0);
    PartitionData p1 = PartitionData.read(rows(second), rowSpec, 1);

    String spec = NetworkSpec.mlp(new int[] {8, 16, 3});
    EmberClassifier params = new EmberClassifier().setLayers(new int[] {8, 16, 3});
    NetworkDefinition network = NetworkDefinition.of(params);
    TrainingConfig config =
        TrainingConfig.builder("equivalence", network, TaskKind.CLASSIFICATION)
            .seed(11)
            .optimizer(OptimizerName.ADAM, 1e-3, 0, 0)
            .batches(40, 1, 1)
            .updateKind(UpdateKind.GRADIENT_SUM)
            .build();

    try (Module reference = NetworkSpec.build(spec, new int[] {8}, new Generator(11))) {
      float[] w = reference.flatParameters().values().toFloatArray();
      RoundWeights weights = new RoundWeights(w, new float[0]);
      Update u0 = PartitionTrainer.train(config, weights, p0, 0, 0, 0, 0, null);
      Update u1 = PartitionTrainer.train(config, weights, p1, 1, 0, 0, 0, null);
      Update total = Coordinator.sum(List.of(u0, u1));
      assertEquals(40, total.examples());
      Step step = new MeanGradientAggregator().combine(total);

      // The same gradient computed in one process on all 40 rows.
      float[] x = new float[40 * 8];
      long[] y = new long[40];
      for (int i = 0; i < 40; i++) {
        System.arraycopy(points.get(i)[0], 0, x, i * 8, 8);
        y[i] = (long) points.get(i)[1][0];
      }
      try (MemoryScope scope = MemoryScope.open();
          CrossEntropyLoss ce = new CrossEntropyLoss()) {
        reference.zeroGrad();
        Tensor loss =
            ce.apply(reference.forward(Tensor.of(NDArray.of(x, 40, 8))), NDArray.of(y, 40));
        loss.backward();
        float[] expected = reference.flatParameters().grads().toFloatArray();
        for (int i = 0; i < expected.length; i++) {
          assertEquals(
              expected[i], step.values()[i], 1e-5 + 1e-4 * Math.abs(expected[i]), "grad " + i);
        }
        assertEquals(loss.item() * 40, total.lossSum(), 1e-4);
      }
    }
  }

  static Iterator<InternalRow> rows(List<float[][]> points) {
    List<InternalRow> out = new ArrayList<>();
    for (float[][] p : points) {
      out.add(
          new GenericInternalRow(
              new Object[] {UnsafeArrayData.fromPrimitiveArray(p[0]), (double) p[1][0]}));
    }
    return out.iterator();
  }
}
