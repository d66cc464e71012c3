package org.emberdl.examples;

import static org.emberdl.examples.CliRun.run;
import static org.emberdl.examples.EmberCli.parse;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.emberdl.examples.CliRun.Outcome;
import org.emberdl.examples.EmberCli.ExportArgs;
import org.emberdl.examples.EmberCli.PredictArgs;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.ParameterException;

/** {@code predict --onnx} and {@code export}: ONNX files in and out of the command line. */
class OnnxCliTest {
  /** The onnx module's PyTorch-trained Fashion-MNIST MLP (made by make_fashion_mlp.py). */
  static final Path FIXTURES = Path.of("../onnx/src/test/resources/org/emberdl/onnx/fixtures");

  @TempDir static Path dir;

  private static String images; // the fixture's 8 test images, labelled with PyTorch's argmax
  private static String blobs;
  private static String model;

  @BeforeAll
  static void writeData() throws Exception {
    SparkSession spark =
        SparkSession.builder()
            .master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate();
    List<Row> rows = new ArrayList<>();
    try (Safetensors.SafetensorsFile f =
        Safetensors.read(FIXTURES.resolve("fashion_mlp.safetensors"))) {
      float[] x = f.tensors().get("input").toFloatArray();
      float[] y = f.tensors().get("output").toFloatArray();
      for (int i = 0; i < 8; i++) {
        float[] features = new float[784];
        System.arraycopy(x, i * 784, features, 0, 784);
        int argmax = 0;
        for (int k = 1; k < 10; k++) {
          argmax = y[i * 10 + k] > y[i * 10 + argmax] ? k : argmax;
        }
        rows.add(RowFactory.create((double) i, features, (double) argmax));
      }
    }
    StructType schema =
        new StructType()
            .add("id", DataTypes.DoubleType, false)
            .add("features", DataTypes.createArrayType(DataTypes.FloatType, false), false)
            .add("label", DataTypes.DoubleType, false);
    images = dir.resolve("images.parquet").toString();
    spark.createDataFrame(rows, schema).coalesce(1).write().parquet(images);
    blobs = dir.resolve("blobs.parquet").toString();
    spark
        .range(24)
        .selectExpr(
            "cast(id % 3 as double) as label",
            "array(cast(id % 3 as float), cast(id as float) / 24, 0.5f, 1f) as features")
        .coalesce(1)
        .write()
        .parquet(blobs);
    spark.stop();
    model = dir.resolve("model").toString();
    Outcome trained =
        run(
            "train",
            "--data",
            blobs,
            "--model-out",
            model,
            "--network",
            "linear(6), relu," + " linear(3)",
            "--input-shape",
            "4",
            "--epochs",
            "1",
            "--batch-size",
            "8");
    assertEquals(0, trained.status(), trained.err());
  }

  @AfterEach
  void releasePooledReplicas() {
    org.emberdl.spark.EmberEngine.releaseCached(); // before the allocator leak check
  }

  @Test
  void parsing() {
    assertEquals(
        new PredictArgs(null, "d", "o", 0, "features", "label", null, false, "m.onnx"),
        parse("predict", "--onnx", "m.onnx", "--data", "d", "--out", "o"));
    assertThrows(
        ParameterException.class,
        () -> parse("predict", "--onnx", "m.onnx", "--model", "m", "--data", "d", "--out", "o"));
    assertThrows(ParameterException.class, () -> parse("predict", "--data", "d", "--out", "o"));
    assertEquals(
        new ExportArgs("m", "out.onnx", null, false),
        parse("export", "--model", "m", "--onnx", "out.onnx"));
    ParameterException e =
        assertThrows(
            ParameterException.class,
            () -> parse("export", "--model", "m", "--onnx", "hdfs://nn/out.onnx"));
    assertEquals("--onnx must be a local file, got 'hdfs://nn/out.onnx'", e.getMessage());
  }

  @Test
  void trainParsesTheInitialModelAndFrozenPrefixes() {
    EmberCli.TrainArgs a =
        (EmberCli.TrainArgs)
            parse(
                "train",
                "--initial-model",
                "m.onnx",
                "--freeze",
                "0.,fc1",
                "--input-shape",
                "784",
                "--data",
                "d",
                "--model-out",
                "o");
    assertEquals("m.onnx", a.initialModel());
    assertArrayEquals(new String[] {"0.", "fc1"}, a.frozenPrefixes());
    assertEquals(null, a.layers(), "no default MLP under an initial model");
    assertArrayEquals(new int[] {784}, a.inputShape());
    ParameterException e =
        assertThrows(
            ParameterException.class,
            () ->
                parse(
                    "train",
                    "--initial-model",
                    "m.onnx",
                    "--layers",
                    "4,3",
                    "--data",
                    "d",
                    "--model-out",
                    "o"));
    assertEquals("--initial-model gives the network: leave out --layers", e.getMessage());
    e =
        assertThrows(
            ParameterException.class,
            () -> parse("train", "--freeze", ",0.", "--data", "d", "--model-out", "o"));
    assertEquals("--freeze needs non-empty parameter-name prefixes", e.getMessage());
  }

  /**
   * {@code train --initial-model} fine-tunes PyTorch's MLP on Spark: the frozen first layer keeps
   * the file's weights bit for bit, the head moves, and the model saves and scores.
   */
  @Test
  void trainFineTunesAnOnnxModelWithAFrozenPrefix() throws Exception {
    Path onnx = FIXTURES.resolve("fashion_mlp.onnx");
    String tuned = dir.resolve("tuned").toString();
    Outcome o =
        run(
            "train",
            "--initial-model",
            onnx.toString(),
            "--freeze",
            "0.",
            "--data",
            images,
            "--model-out",
            tuned,
            "--epochs",
            "2",
            "--batch-size",
            "4",
            "--lr",
            "0.05");
    assertEquals(0, o.status(), o.err());
    assertTrue(o.out().contains("training ONNX model " + onnx), o.out());
    Map<String, float[]> before = new TreeMap<>();
    try (org.emberdl.onnx.OnnxModule m = org.emberdl.onnx.Onnx.load(onnx)) {
      m.namedParameters().forEach((k, v) -> before.put(k, v.data().toFloatArray()));
    }
    Map<String, float[]> after = new TreeMap<>();
    try (Safetensors.SafetensorsFile f =
        Safetensors.read(Path.of(tuned, "data", "weights.safetensors"))) {
      f.tensors().forEach((k, v) -> after.put(k, v.toFloatArray()));
    }
    assertArrayEquals(before.get("0.weight"), after.get("0.weight"), "frozen 0.weight");
    assertArrayEquals(before.get("0.bias"), after.get("0.bias"), "frozen 0.bias");
    assertTrue(
        !java.util.Arrays.equals(before.get("2.weight"), after.get("2.weight")), "2.weight moved");
    String out = dir.resolve("tuned-predictions.parquet").toString();
    Outcome p = run("predict", "--model", tuned, "--data", images, "--out", out);
    assertEquals(0, p.status(), p.err());
  }

  @Test
  void trainWithAMissingInitialModelIsAnInputError() {
    Path missing = dir.resolve("missing-initial.onnx");
    Outcome o =
        run(
            "train",
            "--initial-model",
            missing.toString(),
            "--data",
            images,
            "--model-out",
            dir.resolve("never-trained").toString());
    assertEquals(EmberCli.INPUT_ERROR, o.status(), o.err());
    assertTrue(o.firstErrorLine().contains(missing.toString()), o.err());
    assertTrue(o.firstErrorLine().contains("does not exist"), o.err());
    assertTrue(Files.notExists(dir.resolve("never-trained")));
  }

  @Test
  void predictWithAnOnnxFileScoresAsPyTorch() throws Exception {
    String out = dir.resolve("onnx-predictions.parquet").toString();
    Outcome o =
        run(
            "predict",
            "--onnx",
            FIXTURES.resolve("fashion_mlp.onnx").toString(),
            "--data",
            images,
            "--out",
            out,
            "--batch-size",
            "3");
    assertEquals(0, o.status(), o.err());
    // the labels are PyTorch's own predictions
    assertTrue(o.out().contains("accuracy: 1.0000 (8 rows)"), o.out());
  }

  @Test
  void aMissingOrBrokenOnnxFileIsAnInputError() throws Exception {
    String out = dir.resolve("never.parquet").toString();
    Path missing = dir.resolve("missing.onnx");
    Outcome o = run("predict", "--onnx", missing.toString(), "--data", images, "--out", out);
    assertEquals(EmberCli.INPUT_ERROR, o.status(), o.err());
    assertTrue(o.firstErrorLine().contains(missing.toString()), o.err());
    assertTrue(o.firstErrorLine().contains("does not exist"), o.err());

    Path broken = dir.resolve("broken.onnx");
    Files.writeString(broken, "not a model");
    o = run("predict", "--onnx", broken.toString(), "--data", images, "--out", out);
    assertEquals(EmberCli.INPUT_ERROR, o.status(), o.err());
    assertTrue(o.firstErrorLine().contains(broken.toString()), o.err());
    assertTrue(o.firstErrorLine().contains("not an ONNX model"), o.err());
    assertTrue(Files.notExists(Path.of(out)));
  }

  @Test
  void exportedModelPredictsAsTheSavedModel() throws Exception {
    Path onnx = dir.resolve("model.onnx");
    Outcome e = run("export", "--model", model, "--onnx", onnx.toString());
    assertEquals(0, e.status(), e.err());
    assertTrue(e.out().startsWith("exported " + model + " to " + onnx), e.out());

    String fromModel = dir.resolve("p-model.parquet").toString();
    String fromOnnx = dir.resolve("p-onnx.parquet").toString();
    assertEquals(0, run("predict", "--model", model, "--data", blobs, "--out", fromModel).status());
    Outcome p = run("predict", "--onnx", onnx.toString(), "--data", blobs, "--out", fromOnnx);
    assertEquals(0, p.status(), p.err());
    Map<Double, double[]> a = probabilities(fromModel);
    Map<Double, double[]> b = probabilities(fromOnnx);
    assertEquals(a.keySet(), b.keySet());
    for (Double k : a.keySet()) {
      assertArrayEquals(a.get(k), b.get(k), 1e-6, "probabilities of row " + k);
    }

    // an existing file needs --overwrite, and only an ONNX model is replaced
    Outcome again = run("export", "--model", model, "--onnx", onnx.toString());
    assertEquals(EmberCli.OUTPUT_REFUSED, again.status(), again.err());
    assertTrue(again.firstErrorLine().contains("pass --overwrite"), again.err());
    assertEquals(
        0, run("export", "--model", model, "--onnx", onnx.toString(), "--overwrite").status());
    Path notes = dir.resolve("notes.txt");
    Files.writeString(notes, "mine");
    Outcome refused = run("export", "--model", model, "--onnx", notes.toString(), "--overwrite");
    assertEquals(EmberCli.OUTPUT_REFUSED, refused.status(), refused.err());
    assertTrue(refused.firstErrorLine().contains("it is not an ONNX model"), refused.err());
    assertEquals("mine", Files.readString(notes));
  }

  /** Probability vectors by the rows' features (as a key), read back from predict's Parquet. */
  private static Map<Double, double[]> probabilities(String parquet) {
    SparkSession spark =
        SparkSession.builder()
            .master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate();
    try {
      Map<Double, double[]> out = new TreeMap<>();
      int i = 0;
      for (Row r : spark.read().parquet(parquet).select("probability").collectAsList()) {
        out.put((double) i++, ((Vector) r.get(0)).toArray());
      }
      return out;
    } finally {
      spark.stop();
    }
  }
}
