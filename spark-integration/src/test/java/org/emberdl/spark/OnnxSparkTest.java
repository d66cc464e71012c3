package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.data.FashionMnist;
import org.emberdl.onnx.Onnx;
import org.emberdl.onnx.OnnxModule;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX networks on Spark: a PyTorch-trained Fashion-MNIST MLP (the onnx module's fixture, made by
 * onnx/src/test/python/make_fashion_mlp.py) scored by {@link EmberOnnxModel}, fine-tuned with
 * {@code initialModel} (frozen prefixes, stage = rounds), saved and loaded, exported again and run
 * by ONNX Runtime; and the errors of bad files and Params.
 */
class OnnxSparkTest {
  /** The onnx module's fixtures, read in place (the module's tests own them). */
  static final Path FIXTURES = Path.of("../onnx/src/test/resources/org/emberdl/onnx/fixtures");

  static final Path FASHION = FIXTURES.resolve("fashion_mlp.onnx");

  @TempDir Path tmp;

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  static SparkSession spark() {
    return SparkTestSession.get();
  }

  /** Rows {features: array<float>, label: double}. */
  static Dataset<Row> frame(float[][] x, double[] y, int partitions) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < x.length; i++) {
      rows.add(RowFactory.create(x[i], y[i]));
    }
    return spark().createDataFrame(rows, TestData.FLOAT_ARRAY_SCHEMA).repartition(partitions);
  }

  /** The fixture's 8 test images and PyTorch's logits for them. */
  static float[][][] reference() throws Exception {
    try (Safetensors.SafetensorsFile f =
        Safetensors.read(FIXTURES.resolve("fashion_mlp.safetensors"))) {
      return new float[][][] {
        rows(f.tensors().get("input").toFloatArray(), 784),
        rows(f.tensors().get("output").toFloatArray(), 10)
      };
    }
  }

  static float[][] rows(float[] flat, int width) {
    float[][] out = new float[flat.length / width][width];
    for (int i = 0; i < out.length; i++) {
      System.arraycopy(flat, i * width, out[i], 0, width);
    }
    return out;
  }

  /** Ember standalone: the imported module's eval-mode logits. */
  static float[][] standalone(byte[] onnx, float[][] x) throws Exception {
    try (OnnxModule m = Onnx.load(onnx);
        NoGrad ng = NoGrad.enter();
        MemoryScope s = MemoryScope.open()) {
      float[] flat = new float[x.length * x[0].length];
      for (int i = 0; i < x.length; i++) {
        System.arraycopy(x[i], 0, flat, i * x[i].length, x[i].length);
      }
      float[] y =
          m.forward(Tensor.of(NDArray.of(flat, x.length, x[0].length))).data().toFloatArray();
      return rows(y, y.length / x.length);
    }
  }

  /** ONNX Runtime's output of {@code onnx} on {@code x}. */
  static float[][] onnxRuntime(byte[] onnx, float[][] x) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    float[] flat = new float[x.length * x[0].length];
    for (int i = 0; i < x.length; i++) {
      System.arraycopy(x[i], 0, flat, i * x[i].length, x[i].length);
    }
    try (OrtSession session = env.createSession(onnx, new OrtSession.SessionOptions());
        OnnxTensor in =
            OnnxTensor.createTensor(
                env, FloatBuffer.wrap(flat), new long[] {x.length, x[0].length});
        OrtSession.Result r = session.run(Map.of(session.getInputNames().iterator().next(), in))) {
      return (float[][]) r.get(0).getValue();
    }
  }

  /** rawPrediction per row, in the order of column {@code id} (the row index in x). */
  static float[][] raw(Dataset<Row> scored, int n) {
    float[][] out = new float[n][];
    for (Row r : scored.select("label", "rawPrediction").collectAsList()) {
      double[] v = ((Vector) r.get(1)).toArray();
      float[] f = new float[v.length];
      for (int i = 0; i < v.length; i++) {
        f[i] = (float) v[i];
      }
      out[(int) r.getDouble(0)] = f;
    }
    return out;
  }

  static double[] indices(int n) {
    double[] y = new double[n];
    for (int i = 0; i < n; i++) {
      y[i] = i;
    }
    return y;
  }

  static void assertClose(float[][] want, float[][] got, double tol, String what) {
    assertEquals(want.length, got.length, what + ": rows");
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i].length, got[i].length, what + ": width of row " + i);
      for (int j = 0; j < want[i].length; j++) {
        assertEquals(want[i][j], got[i][j], tol, what + " row " + i + " output " + j);
      }
    }
  }

  @Test
  void onnxModelScoresAsEmberStandaloneAndPyTorch() throws Exception {
    float[][][] ref = reference();
    float[][] x = ref[0];
    byte[] onnx = Files.readAllBytes(FASHION);
    // the rows go through Parquet, as a user's data would
    String parquet = tmp.resolve("images.parquet").toString();
    frame(x, indices(x.length), 2).write().parquet(parquet);
    Dataset<Row> df = spark().read().parquet(parquet);

    EmberOnnxModel model = EmberOnnxModel.fromOnnx(FASHION.toString()).setInferenceBatchSize(3);
    assertEquals(10, model.numClasses());
    assertEquals(784, model.numFeatures());
    Dataset<Row> scored = model.transform(df);
    float[][] got = raw(scored, x.length);
    assertClose(standalone(onnx, x), got, 1e-5, "Spark vs Ember standalone");
    assertClose(ref[1], got, 1e-4, "Spark vs PyTorch");
    for (Row r : scored.select("rawPrediction", "probability", "prediction").collectAsList()) {
      double[] logits = ((Vector) r.get(0)).toArray();
      double[] p = ((Vector) r.get(1)).toArray();
      int argmax = 0;
      double sum = 0;
      double max = Double.NEGATIVE_INFINITY;
      for (double l : logits) {
        max = Math.max(max, l);
      }
      for (int i = 0; i < logits.length; i++) {
        sum += Math.exp(logits[i] - max);
        argmax = logits[i] > logits[argmax] ? i : argmax;
      }
      for (int i = 0; i < logits.length; i++) {
        assertEquals(Math.exp(logits[i] - max) / sum, p[i], 1e-6, "softmax " + i);
      }
      assertEquals(argmax, r.getDouble(2), "prediction");
    }

    // saved and loaded: the graph travels in data/network.onnx, the outputs are the same bits
    String dir = tmp.resolve("onnx-model").toString();
    model.write().save(dir);
    assertArrayEquals(onnx, Files.readAllBytes(Path.of(dir, "data", "network.onnx")));
    EmberOnnxModel loaded = EmberOnnxModel.load(dir);
    assertEquals(model.uid(), loaded.uid());
    assertEquals(3, loaded.getInferenceBatchSize());
    float[][] again = raw(loaded.transform(df), x.length);
    for (int i = 0; i < x.length; i++) {
      assertArrayEquals(got[i], again[i], "row " + i + " after save/load");
    }

    // in a PipelineModel, saved and loaded by Spark's own persistence
    org.apache.spark.ml.PipelineModel pipeline =
        new org.apache.spark.ml.Pipeline()
            .setStages(new org.apache.spark.ml.PipelineStage[] {model})
            .fit(df);
    String pipelineDir = tmp.resolve("pipeline").toString();
    pipeline.write().save(pipelineDir);
    float[][] viaPipeline =
        raw(org.apache.spark.ml.PipelineModel.load(pipelineDir).transform(df), x.length);
    for (int i = 0; i < x.length; i++) {
      assertArrayEquals(got[i], viaPipeline[i], "row " + i + " through a saved PipelineModel");
    }

    // Spark's single-row API on the driver
    double[] one = new double[784];
    for (int j = 0; j < 784; j++) {
      one[j] = x[0][j];
    }
    double[] single = model.predictRaw(org.apache.spark.ml.linalg.Vectors.dense(one)).toArray();
    for (int k = 0; k < 10; k++) {
      assertEquals(got[0][k], single[k], 1e-5, "predictRaw output " + k);
    }
  }

  @Test
  void badFilesAndParamsAreNamed() throws Exception {
    Path missing = tmp.resolve("nope.onnx");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> EmberOnnxModel.fromOnnx(missing.toString()));
    assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());

    Path text = tmp.resolve("notes.onnx");
    Files.writeString(text, "this is not a protobuf message at all, just words\n");
    e =
        assertThrows(
            IllegalArgumentException.class, () -> EmberOnnxModel.fromOnnx(text.toString()));
    assertTrue(
        e.getMessage()
            .startsWith(
                "ONNX model "
                    + text
                    + " is not an ONNX model: its 50 bytes do not parse as a ModelProto"),
        e.getMessage());

    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> EmberOnnxModel.fromOnnx(FASHION.toString(), new int[] {1, 28, 28}));
    assertTrue(
        e.getMessage()
            .startsWith(
                "inputShape [1, 28, 28] does not fit ONNX model "
                    + FASHION
                    + ": its input 'input' has shape [?, 784]"),
        e.getMessage());

    // the same checks on the estimator, before any Spark job
    Dataset<Row> df = frame(new float[][] {new float[784]}, new double[] {0}, 1);
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new EmberClassifier().setInitialModel(missing.toString()).fit(df));
    assertEquals("initialModel " + missing + " does not exist", e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new EmberClassifier()
                    .setInitialModel(FASHION.toString())
                    .setInputShape(new int[] {28, 28})
                    .fit(df));
    assertTrue(e.getMessage().startsWith("inputShape [28, 28] does not fit initialModel "));
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new EmberClassifier()
                    .setInitialModel(FASHION.toString())
                    .setLayers(new int[] {784, 10})
                    .setNetwork("linear(10)")
                    .fit(df));
    assertEquals(
        "initialModel ("
            + FASHION
            + ") defines the network, so it cannot be combined with layers=[784, 10],"
            + " network='linear(10)'; unset them",
        e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new EmberClassifier()
                    .setInitialModel(FASHION.toString())
                    .setFrozenPrefixes("fc1.")
                    .fit(df));
    assertEquals(
        "frozenPrefixes: 'fc1.' is the prefix of no parameter of the network initialModel "
            + FASHION
            + " on [784]; its parameters are [0.weight, 0.bias, 2.weight, 2.bias]",
        e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new EmberClassifier()
                    .setInitialModel(FASHION.toString())
                    .setFrozenPrefixes("0.", "2")
                    .fit(df));
    assertTrue(e.getMessage().contains("freeze every parameter"), e.getMessage());
  }

  /** Fine-tuning: frozen layers keep their bits, and stage and rounds give the same weights. */
  @Test
  void frozenPrefixesStayBitEqualAndStageEqualsRounds() throws Exception {
    java.util.Random rnd = new java.util.Random(5);
    int n = 192;
    float[][] x = new float[n][784];
    double[] y = new double[n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < 784; j++) {
        x[i][j] = rnd.nextFloat();
      }
      y[i] = rnd.nextInt(10);
    }
    Dataset<Row> df = frame(x, y, 2).cache();
    Map<String, float[]> before = weights(EmberOnnxModel.fromOnnx(FASHION.toString()).weights());
    byte[][] results = new byte[2][];
    String[] modes = {"stage", "rounds"};
    for (int m = 0; m < 2; m++) {
      EmberClassificationModel tuned =
          new EmberClassifier()
              .setInitialModel(FASHION.toString())
              .setFrozenPrefixes("0.")
              .setExecutionMode(modes[m])
              .setOptimizer("adam")
              .setWeightDecay(0.01) // decay would move a frozen weight if the step touched it
              .setLearningRate(1e-2)
              .setBatchSize(32)
              .setMaxEpochs(2)
              .setSeed(3)
              .fit(df);
      results[m] = tuned.weights();
      Map<String, float[]> after = weights(tuned.weights());
      assertArrayEquals(before.get("0.weight"), after.get("0.weight"), modes[m] + ": 0.weight");
      assertArrayEquals(before.get("0.bias"), after.get("0.bias"), modes[m] + ": 0.bias");
      assertFalse(
          java.util.Arrays.equals(before.get("2.weight"), after.get("2.weight")),
          modes[m] + ": 2.weight trained");
    }
    assertArrayEquals(results[0], results[1], "stage and rounds give the same weights");
    // a model only scores: frozenPrefixes (copied from the fit) play no part in transform
    EmberOnnxModel scorer = EmberOnnxModel.fromOnnx(FASHION.toString());
    scorer.setFrozenPrefixes("no.such.layer");
    assertEquals(n, scorer.transform(df).count());

    // dp-fedavg adds Gaussian noise to the summed deltas: frozen parameters get none of it
    Map<String, float[]> noisy =
        weights(
            new EmberClassifier()
                .setInitialModel(FASHION.toString())
                .setFrozenPrefixes("0.")
                .setAggregation("dp-fedavg")
                .setNoiseMultiplier(1.0)
                .setL2NormClip(1.0)
                .setLearningRate(1e-2)
                .setBatchSize(32)
                .setMaxEpochs(2)
                .setSeed(3)
                .fit(df)
                .weights());
    assertArrayEquals(before.get("0.weight"), noisy.get("0.weight"), "dp-fedavg: 0.weight");
    assertArrayEquals(before.get("0.bias"), noisy.get("0.bias"), "dp-fedavg: 0.bias");
    assertFalse(
        java.util.Arrays.equals(before.get("2.bias"), noisy.get("2.bias")), "dp-fedavg: 2.bias");
    df.unpersist();
  }

  static Map<String, float[]> weights(byte[] safetensors) throws Exception {
    Map<String, float[]> out = new java.util.LinkedHashMap<>();
    try (Safetensors.SafetensorsFile f = Safetensors.read(safetensors)) {
      f.tensors().forEach((k, v) -> out.put(k, v.toFloatArray()));
    }
    return out;
  }

  /**
   * The PyTorch-trained MLP fine-tuned one epoch on Spark keeps (or improves) its accuracy; the
   * tuned model survives save/load, and its ONNX export runs in ONNX Runtime as in Ember.
   */
  @Test
  void fineTunedFashionMlpKeepsAccuracyAndExports() throws Exception {
    assumeTrue(
        FashionMnist.isAvailable(FashionMnist.DEFAULT_DIR),
        "Fashion-MNIST is not in " + FashionMnist.DEFAULT_DIR + " (scripts/setup.sh installs it)");
    float[][] trainX;
    double[] trainY;
    float[][] testX;
    double[] testY;
    try (org.emberdl.data.Dataset train = FashionMnist.train();
        org.emberdl.data.Dataset test = FashionMnist.test();
        org.emberdl.data.Dataset trainFlat = train.flattened();
        org.emberdl.data.Dataset testFlat = test.flattened();
        MemoryScope scope = MemoryScope.open()) {
      trainX = rows(trainFlat.features().narrow(0, 0, 4000).toFloatArray(), 784);
      trainY = toDoubles(trainFlat.labels().narrow(0, 0, 4000).toLongArray());
      testX = rows(testFlat.features().narrow(0, 0, 2000).toFloatArray(), 784);
      testY = toDoubles(testFlat.labels().narrow(0, 0, 2000).toLongArray());
    }
    Dataset<Row> trainDf = frame(trainX, trainY, 2);
    Dataset<Row> testDf = frame(testX, testY, 2).cache();
    double before = accuracy(EmberOnnxModel.fromOnnx(FASHION.toString()).transform(testDf));

    EmberClassificationModel tuned =
        new EmberClassifier()
            .setInitialModel(FASHION.toString())
            .setOptimizer("sgd")
            .setLearningRate(0.01)
            .setMomentum(0.9)
            .setBatchSize(64)
            .setMaxEpochs(1)
            .setSeed(11)
            .fit(trainDf);
    double after = accuracy(tuned.transform(testDf));
    org.slf4j.LoggerFactory.getLogger(OnnxSparkTest.class)
        .info("Fashion-MNIST, 2000 test rows: imported {}, fine-tuned {}", before, after);
    assertTrue(after >= before, "accuracy dropped from " + before + " to " + after);

    // save/load of a model whose network is an ONNX graph
    String dir = tmp.resolve("tuned").toString();
    tuned.write().save(dir);
    assertTrue(Files.exists(Path.of(dir, "data", "network.onnx")));
    EmberClassificationModel loaded = EmberClassificationModel.load(dir);
    assertArrayEquals(tuned.weights(), loaded.weights());
    assertEquals(after, accuracy(loaded.transform(testDf)));

    // exported: ONNX Runtime agrees with Ember's Spark scoring within 1e-5
    Path out = tmp.resolve("tuned.onnx");
    loaded.exportOnnx(out.toString());
    byte[] exported = Files.readAllBytes(out);
    float[][] sample = java.util.Arrays.copyOf(testX, 64);
    float[][] ort = onnxRuntime(exported, sample);
    float[][] spark = raw(loaded.transform(frame(sample, indices(64), 2)), 64);
    assertClose(ort, spark, 1e-5, "ONNX Runtime vs Ember on Spark");
    testDf.unpersist();
  }

  static double[] toDoubles(long[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }

  static double accuracy(Dataset<Row> scored) {
    List<Row> rows = scored.select("label", "prediction").collectAsList();
    long ok = rows.stream().filter(r -> r.getDouble(0) == r.getDouble(1)).count();
    return (double) ok / rows.size();
  }

  /** Ember's export of a trained spec network runs in ONNX Runtime as the model scores. */
  @Test
  void trainedSpecModelExportsForOnnxRuntime() throws Exception {
    Dataset<Row> df = TestData.blobs(spark(), 96, 4, 3, 2, 2);
    EmberClassificationModel model =
        new EmberClassifier()
            .setNetwork("linear(8), tanh, linear(3)")
            .setInputShape(new int[] {4})
            .setMaxEpochs(1)
            .setBatchSize(32)
            .fit(df);
    Path out = tmp.resolve("blobs.onnx");
    model.exportOnnx(out.toString());
    float[][] x = new float[5][4];
    for (int i = 0; i < 5; i++) {
      for (int j = 0; j < 4; j++) {
        x[i][j] = (i - 2) * 0.7f + j * 0.3f;
      }
    }
    assertClose(
        raw(model.transform(frame(x, indices(5), 1)), 5),
        onnxRuntime(Files.readAllBytes(out), x),
        1e-5,
        "ONNX Runtime vs Ember on Spark");
  }

  /** A saved model's graph is read bounded and checked; a missing or damaged one is named. */
  @Test
  void savedGraphMissingOrDamagedIsNamed() throws Exception {
    spark();
    EmberOnnxModel model = EmberOnnxModel.fromOnnx(FASHION.toString());
    Path dir = tmp.resolve("saved");
    model.write().save(dir.toString());
    Path graph = dir.resolve("data").resolve("network.onnx");

    Files.write(graph, new byte[] {0x0a, (byte) 0xff, 0x01, 0x02});
    Files.deleteIfExists(graph.resolveSibling(".network.onnx.crc")); // as a hand edit leaves it
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> EmberOnnxModel.load(dir.toString()));
    assertTrue(
        e.getMessage()
            .startsWith(
                "the model's ONNX network "
                    + graph
                    + " is not an ONNX model: its 4 bytes do not parse as a ModelProto"),
        e.getMessage());

    Files.delete(graph);
    e = assertThrows(IllegalArgumentException.class, () -> EmberOnnxModel.load(dir.toString()));
    assertEquals("the model's ONNX network " + graph + " does not exist", e.getMessage());
  }

  /** A network with a layer Ember cannot export fails naming the layer, and writes nothing. */
  @Test
  void unexportableLayerIsNamed() throws Exception {
    Dataset<Row> df = TestData.blobs(spark(), 64, 4, 3, 2, 2);
    EmberClassificationModel model =
        new EmberClassifier()
            .setModuleFactory(TrainingOptionsTest.TwoLayerFactory.class.getName())
            .setInputShape(new int[] {4})
            .setMaxEpochs(1)
            .setBatchSize(32)
            .fit(df);
    Path out = tmp.resolve("two-layer.onnx");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> model.exportOnnx(out.toString()));
    assertTrue(e.getMessage().startsWith("model '" + model.uid() + "' ("), e.getMessage());
    assertTrue(e.getMessage().contains("cannot be exported to ONNX"), e.getMessage());
    assertTrue(e.getMessage().contains("TwoLayer"), e.getMessage());
    assertFalse(Files.exists(out));
  }

  /**
   * A fit ships the ONNX graph (which holds the weights too) to the executors as one broadcast, not
   * inside every round's task closure: the serialized network is small and still builds.
   */
  @Test
  void aFitShipsTheGraphAsABroadcast() throws Exception {
    byte[] graph = Files.readAllBytes(FASHION);
    org.emberdl.spark.internal.local.NetworkDefinition plain =
        org.emberdl.spark.internal.local.NetworkDefinition.onnx(
            graph, "ONNX model " + FASHION, new EmberClassifier());
    org.emberdl.spark.internal.local.NetworkDefinition shared =
        plain.sharedBy(
            org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark().sparkContext()));
    try {
      byte[] plainBytes = serialize(plain);
      byte[] sharedBytes = serialize(shared);
      assertTrue(plainBytes.length > graph.length, "without a broadcast the graph travels along");
      assertTrue(sharedBytes.length < 4096, "shared: " + sharedBytes.length + " bytes");
      try (java.io.ObjectInputStream in =
          new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(sharedBytes))) {
        org.emberdl.spark.internal.local.NetworkDefinition back =
            (org.emberdl.spark.internal.local.NetworkDefinition) in.readObject();
        assertArrayEquals(graph, back.onnxGraph());
        assertEquals(10, back.outputSize());
      }
    } finally {
      shared.unshare();
    }
  }

  private static byte[] serialize(Object o) throws Exception {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(b)) {
      out.writeObject(o);
    }
    return b.toByteArray();
  }

  /** A fit from initialModel resumes from its checkpoints as any fit: the same weights. */
  @Test
  void aFineTuneResumesFromItsCheckpoint() throws Exception {
    java.util.Random rnd = new java.util.Random(9);
    int n = 128;
    float[][] x = new float[n][784];
    double[] y = new double[n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < 784; j++) {
        x[i][j] = rnd.nextFloat();
      }
      y[i] = rnd.nextInt(10);
    }
    Dataset<Row> df = frame(x, y, 2).cache();
    String checkpoints = tmp.resolve("checkpoints").toString();
    EmberClassifier clf =
        new EmberClassifier()
            .setInitialModel(FASHION.toString())
            .setFrozenPrefixes("0.weight")
            .setBatchSize(32)
            .setSeed(4);
    byte[] straight =
        clf.copy(new org.apache.spark.ml.param.ParamMap()).setMaxEpochs(2).fit(df).weights();
    clf.copy(new org.apache.spark.ml.param.ParamMap())
        .setCheckpointDir(checkpoints)
        .setMaxEpochs(1)
        .fit(df);
    byte[] resumed =
        clf.copy(new org.apache.spark.ml.param.ParamMap())
            .setCheckpointDir(checkpoints)
            .setMaxEpochs(2)
            .fit(df)
            .weights();
    assertArrayEquals(straight, resumed, "resumed from epoch 1 = trained straight to epoch 2");
    df.unpersist();
  }
}
