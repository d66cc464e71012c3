package org.emberdl.spark.internal.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.param.DoubleArrayParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.FloatParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.network.client.RpcResponseCallback;
import org.apache.spark.rdd.RDD;
import org.apache.spark.rpc.RpcCallContext;
import org.apache.spark.rpc.RpcEndpoint;
import org.apache.spark.rpc.RpcEndpointRef;
import org.apache.spark.rpc.RpcEnv;
import org.apache.spark.rpc.RpcTimeout;
import org.apache.spark.rpc.netty.NettyRpcEnv;
import org.apache.spark.rpc.netty.RemoteNettyRpcCallContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Alias;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.catalyst.expressions.NamedExpression;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.execution.ColumnarToRowExec;
import org.apache.spark.sql.execution.ProjectExec;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.WholeStageCodegenExec;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampNTZType;
import org.apache.spark.sql.types.TimestampType;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import org.apache.spark.sql.vectorized.ColumnarBatchRow;
import org.apache.spark.ui.SparkUI;
import org.apache.spark.ui.SparkUITab;
import org.apache.spark.ui.UIUtils;
import org.apache.spark.ui.WebUIPage;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.util.RpcUtils;
import org.emberdl.spark.internal.stage.StageTraining;
import org.emberdl.spark.internal.train.ProgressBoard;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.concurrent.duration.Duration;
import scala.jdk.javaapi.FutureConverters;
import scala.reflect.ClassTag$;
import scala.xml.Node;
import scala.xml.XML$;

/**
 * Every use of Spark's internal or developer API in Ember, in one place (pinned by {@code
 * SparkInternalsTest}): Catalyst's {@link InternalRow} view of a DataFrame (no per-row boxing into
 * {@code Row}), DataFrames made from {@code InternalRow}s and the row and vector classes they are
 * built from, the one-memcpy copy of an {@code array<float>} out of an {@link UnsafeArrayData}, and
 * Spark ML's params metadata format (so that {@code Pipeline} and {@code CrossValidator}
 * persistence read Ember stages like their own), the columnar batches of Spark's vectorized readers
 * under a DataFrame's physical plan ({@link #columnar}), Spark's RPC environment, through which a
 * training stage's tasks exchange each step with an endpoint on the driver (so that {@code
 * spark.authenticate} and {@code spark.network.crypto.enabled} protect that traffic as they protect
 * Spark's own, and no port is opened), with the scheduler's count of task slots, and the web UI's
 * tab classes (for the Ember tab that shows a fit's progress, {@link ProgressBoard}). Elsewhere
 * Ember only reads rows through {@code InternalRow}'s and {@code ArrayData}'s accessors, and
 * columnar batches through the public {@code ColumnVector} and {@code ColumnarArray} API.
 *
 * <p>Measured on this project's machines (SPARK-NOTES, section 4): reading {@code array<float>}
 * features through {@code InternalRow} + memcpy ran at 213k rows/s against 94k for {@code
 * Row.getList} and 168k for {@code Row} with a {@code Vector}, within 6% of the Parquet decode
 * alone.
 */
public final class SparkInternals {
  private static final VectorUDT VECTORS = new VectorUDT();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Logger COLUMNAR_LOG = LoggerFactory.getLogger(SparkInternals.class);

  private SparkInternals() {}

  /** The DataFrame's rows in Catalyst's form; rows may be reused by the iterator, copy to keep. */
  public static RDD<InternalRow> internalRows(Dataset<?> df) {
    return df.queryExecution().toRdd();
  }

  // ---------------------------------------------------------------------------------------------
  // Columnar batches straight from Spark's vectorized reader (Parquet, ORC), for transform and for
  // reading training partitions: the features go from the column vectors into Ember's buffers
  // without Catalyst first writing each row as an UnsafeRow. Measured on this project's machines
  // (SPARK-NOTES, section 4b) at 145-212k rows/s against ~118k through rows.

  /**
   * The DataFrame's batches as its plan's columnar source produces them, with where each of the
   * DataFrame's columns is in a batch; or null (logged at DEBUG with the reason) when the plan is
   * not a columnar source under a {@code ColumnarToRowExec}, optionally below a projection of bare
   * columns: a filter, a UDF, a shuffle, an in-memory or non-columnar source all take the row path.
   * Spark 4.1 plans {@code spark.read.parquet(f).select(...)} of {@code array<float>} and scalar
   * columns as {@code WholeStageCodegen(ColumnarToRow(InputAdapter(FileSourceScan)))}, with a
   * {@code Project} between the first two when the selection reorders or renames columns.
   *
   * <p>The batches and their vectors are reused by the iterator: copy what is kept before {@code
   * next()}.
   */
  public static Columnar columnar(Dataset<?> df) {
    SparkPlan plan = df.queryExecution().executedPlan();
    SparkPlan node = plan;
    if (node instanceof WholeStageCodegenExec w) {
      node = w.child();
    }
    scala.collection.immutable.Seq<NamedExpression> projection = null;
    if (node instanceof ProjectExec p) {
      projection = p.projectList();
      node = p.child();
    }
    if (!(node instanceof ColumnarToRowExec c2r)) {
      return notColumnar(df, "no ColumnarToRowExec at the top of the plan", plan);
    }
    SparkPlan source = c2r.child();
    if (!source.supportsColumnar()) {
      return notColumnar(df, "the source below ColumnarToRowExec is not columnar", plan);
    }
    scala.collection.immutable.Seq<Attribute> out = plan.output();
    scala.collection.immutable.Seq<Attribute> in = source.output();
    int[] ordinals = new int[out.size()];
    for (int k = 0; k < ordinals.length; k++) {
      Object e = projection == null ? out.apply(k) : projection.apply(k);
      if (e instanceof Alias a) {
        e = a.child();
      }
      if (!(e instanceof Attribute attr)) {
        return notColumnar(df, "column " + k + " is computed (" + e + ")", plan);
      }
      ordinals[k] = -1;
      for (int j = 0; j < in.size(); j++) {
        if (in.apply(j).exprId().equals(attr.exprId())) {
          ordinals[k] = j;
        }
      }
      if (ordinals[k] < 0) {
        return notColumnar(df, "column " + attr + " is not in the columnar source's output", plan);
      }
    }
    return new Columnar(source.executeColumnar(), ordinals, identity(ordinals, in.size()));
  }

  /**
   * A columnar source: its batches, the batch column of each of the DataFrame's columns, and
   * whether the batches hold exactly the DataFrame's columns in its order (so that a batch row is a
   * DataFrame row).
   */
  public record Columnar(RDD<ColumnarBatch> batches, int[] ordinals, boolean sameColumns) {}

  private static boolean identity(int[] ordinals, int width) {
    if (ordinals.length != width) {
      return false;
    }
    for (int k = 0; k < ordinals.length; k++) {
      if (ordinals[k] != k) {
        return false;
      }
    }
    return true;
  }

  private static Columnar notColumnar(Dataset<?> df, String why, SparkPlan plan) {
    if (COLUMNAR_LOG.isDebugEnabled()) {
      COLUMNAR_LOG.debug(
          "reading {} through rows: {}; plan:\n{}", df.schema().simpleString(), why, plan);
    }
    return null;
  }

  /**
   * Whether every column of {@code schema} is of a type whose batch rows ({@link #rowView}) Ember
   * passes on: atomic values and arrays of primitives, which Spark's {@code ColumnarBatchRow} reads
   * straight from its vectors (pinned by {@code SparkInternalsTest}). Other schemas (structs, maps,
   * intervals, variants) take the row path.
   */
  public static boolean batchRowsSupported(StructType schema) {
    for (StructField f : schema.fields()) {
      DataType t = f.dataType();
      if (t instanceof ArrayType a) {
        t = a.elementType();
        if (!(t instanceof NumericType || t instanceof BooleanType) || t instanceof DecimalType) {
          return false;
        }
      } else if (!(t instanceof NumericType
          || t instanceof BooleanType
          || t instanceof StringType
          || t instanceof BinaryType
          || t instanceof DateType
          || t instanceof TimestampType
          || t instanceof TimestampNTZType)) {
        return false;
      }
    }
    return true;
  }

  /** The columns of {@code batch}, for {@link #rowView}. */
  static ColumnVector[] columns(ColumnarBatch batch) {
    ColumnVector[] columns = new ColumnVector[batch.numCols()];
    for (int i = 0; i < columns.length; i++) {
      columns[i] = batch.column(i);
    }
    return columns;
  }

  /**
   * Row {@code rowId} of a batch's {@code columns}: a view, valid while the batch is (the reader
   * refills its vectors on its next batch), read without a copy; its {@code copy()} deep-copies the
   * supported types ({@link #batchRowsSupported}). Spark copies a row into an {@code UnsafeRow}
   * where it keeps it (the scan of a DataFrame made with {@link #createDataFrame} projects every
   * row it receives as it receives it).
   */
  static InternalRow rowView(ColumnVector[] columns, int rowId) {
    ColumnarBatchRow row = new ColumnarBatchRow(columns);
    row.rowId = rowId;
    return row;
  }

  /**
   * {@code row} with column {@code ordinal} replaced by {@code values[offset, offset + length)} as
   * an {@code array<float>} (one memcpy into Spark's unsafe array format), every other column read
   * through {@code row}. For a columnar row whose features were just decoded into Ember's batch
   * buffer: Spark then copies the array with a memcpy instead of decoding the column again.
   */
  static InternalRow withFloatArray(
      InternalRow row, int ordinal, float[] values, int offset, int length) {
    return new ReplacedColumnRow(
        row,
        ordinal,
        UnsafeArrayData.fromPrimitiveArray(
            values, Platform.FLOAT_ARRAY_OFFSET + 4 * offset, length, 4));
  }

  /** A row with one non-null column replaced; the others delegate to the underlying row. */
  private static final class ReplacedColumnRow extends InternalRow {
    private final InternalRow row;
    private final int ordinal;
    private final ArrayData value;

    ReplacedColumnRow(InternalRow row, int ordinal, ArrayData value) {
      this.row = row;
      this.ordinal = ordinal;
      this.value = value;
    }

    @Override
    public int numFields() {
      return row.numFields();
    }

    @Override
    public void setNullAt(int i) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void update(int i, Object v) {
      throw new UnsupportedOperationException();
    }

    @Override
    public InternalRow copy() {
      InternalRow copy = row.copy();
      copy.update(ordinal, value.copy());
      return copy;
    }

    @Override
    public boolean isNullAt(int i) {
      return i != ordinal && row.isNullAt(i);
    }

    @Override
    public boolean getBoolean(int i) {
      return row.getBoolean(i);
    }

    @Override
    public byte getByte(int i) {
      return row.getByte(i);
    }

    @Override
    public short getShort(int i) {
      return row.getShort(i);
    }

    @Override
    public int getInt(int i) {
      return row.getInt(i);
    }

    @Override
    public long getLong(int i) {
      return row.getLong(i);
    }

    @Override
    public float getFloat(int i) {
      return row.getFloat(i);
    }

    @Override
    public double getDouble(int i) {
      return row.getDouble(i);
    }

    @Override
    public org.apache.spark.sql.types.Decimal getDecimal(int i, int precision, int scale) {
      return row.getDecimal(i, precision, scale);
    }

    @Override
    public org.apache.spark.unsafe.types.UTF8String getUTF8String(int i) {
      return row.getUTF8String(i);
    }

    @Override
    public byte[] getBinary(int i) {
      return row.getBinary(i);
    }

    @Override
    public org.apache.spark.unsafe.types.GeographyVal getGeography(int i) {
      return row.getGeography(i);
    }

    @Override
    public org.apache.spark.unsafe.types.GeometryVal getGeometry(int i) {
      return row.getGeometry(i);
    }

    @Override
    public org.apache.spark.unsafe.types.CalendarInterval getInterval(int i) {
      return row.getInterval(i);
    }

    @Override
    public org.apache.spark.unsafe.types.VariantVal getVariant(int i) {
      return row.getVariant(i);
    }

    @Override
    public InternalRow getStruct(int i, int numFields) {
      return row.getStruct(i, numFields);
    }

    @Override
    public ArrayData getArray(int i) {
      return i == ordinal ? value : row.getArray(i);
    }

    @Override
    public org.apache.spark.sql.catalyst.util.MapData getMap(int i) {
      return row.getMap(i);
    }

    @Override
    public Object get(int i, DataType type) {
      return i == ordinal ? value : row.get(i, type);
    }
  }

  /** A DataFrame over {@code rows}, which must match {@code schema} in Catalyst's encoding. */
  public static Dataset<Row> createDataFrame(
      SparkSession spark, RDD<InternalRow> rows, StructType schema) {
    return ((org.apache.spark.sql.classic.SparkSession) spark)
        .internalCreateDataFrame(rows, schema, false);
  }

  /**
   * Copies {@code n} floats of an {@code array<float>} into {@code dst[offset..]}; one memcpy when
   * the array is in Spark's unsafe format, element by element otherwise.
   */
  static void copyFloats(ArrayData array, float[] dst, int offset, int n) {
    if (array instanceof UnsafeArrayData u) {
      Platform.copyMemory(
          u.getBaseObject(),
          u.getBaseOffset() + UnsafeArrayData.calculateHeaderPortionInBytes(n),
          dst,
          Platform.FLOAT_ARRAY_OFFSET + 4L * offset,
          4L * n);
    } else {
      for (int j = 0; j < n; j++) {
        dst[offset + j] = array.getFloat(j);
      }
    }
  }

  /** {@code input} followed by {@code values} (Catalyst values: Double, or a vector's row). */
  public static InternalRow appended(InternalRow input, Object[] values) {
    return new JoinedRow(input, new GenericInternalRow(values));
  }

  /** A dense Spark ML vector in Catalyst's form (VectorUDT's struct). */
  public static InternalRow denseVector(double[] values) {
    return VECTORS.serialize(new DenseVector(values));
  }

  /** A one-column row holding {@code v} (null stays null) in VectorUDT's Catalyst form. */
  public static InternalRow vectorRow(Vector v) {
    return new GenericInternalRow(new Object[] {v == null ? null : VECTORS.serialize(v)});
  }

  /** Writes Spark ML's params metadata for {@code stage} under {@code path}/metadata. */
  public static void saveMetadata(Params stage, String path, SparkSession spark) {
    DefaultParamsWriter.saveMetadata(stage, path, spark);
  }

  /** The params metadata under {@code path}, checked to be written for {@code className}. */
  public static DefaultParamsReader.Metadata loadMetadata(
      String path, SparkSession spark, String className) {
    return DefaultParamsReader.loadMetadata(path, spark, className);
  }

  /**
   * Sets the saved params (explicit, then default) on {@code stage}, as Spark's {@code
   * getAndSetParams} does, but leniently where no meaning is lost and strictly everywhere else: an
   * integer in the JSON is accepted for a double Param ({@code "learningRate": -5}, as a
   * hand-edited or another writer's file may hold; json4s would refuse it), every value is checked
   * with the Param's own validator, and every failure names the Param and the metadata file.
   *
   * @param metadataFile the file the metadata came from, for messages
   * @throws IllegalArgumentException naming the Param, the file and the problem
   */
  public static void setParams(
      DefaultParamsReader.Metadata metadata, Params stage, String metadataFile) {
    JsonNode root;
    try {
      root = JSON.readTree(metadata.metadataJson());
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "the metadata in " + metadataFile + " is not valid JSON: " + e.getMessage(), e);
    }
    setParams(root.get("paramMap"), stage, metadataFile, false);
    setParams(root.get("defaultParamMap"), stage, metadataFile, true);
  }

  private static void setParams(JsonNode map, Params stage, String file, boolean isDefault) {
    String section = isDefault ? "defaultParamMap" : "paramMap";
    if (map == null || map.isNull()) {
      return; // written before Spark 2.4 (no defaults), or nothing set
    }
    if (!map.isObject()) {
      throw new IllegalArgumentException(
          "the metadata in " + file + " has a " + section + " that is not a JSON object");
    }
    Iterator<Map.Entry<String, JsonNode>> fields = map.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String name = field.getKey();
      if (!stage.hasParam(name)) {
        throw new IllegalArgumentException(
            "the metadata in "
                + file
                + " sets Param '"
                + name
                + "', which "
                + stage.getClass().getSimpleName()
                + " does not have");
      }
      @SuppressWarnings("unchecked")
      Param<Object> param = (Param<Object>) stage.getParam(name);
      JsonNode json = lenient(param, field.getValue());
      Object value;
      try {
        value = param.jsonDecode(json.toString());
      } catch (RuntimeException e) {
        throw badParam(file, section, name, json, "cannot be decoded (" + e.getMessage() + ")", e);
      }
      if (!Boolean.TRUE.equals(param.isValid().apply(value))) {
        throw badParam(file, section, name, json, "is invalid: " + param.doc(), null);
      }
      if (isDefault) {
        stage.setDefault(param, value);
      } else {
        stage.set(param, value);
      }
    }
  }

  /** Integers where a double is meant become doubles; everything else is left as written. */
  private static JsonNode lenient(Param<?> param, JsonNode json) {
    if ((param instanceof DoubleParam || param instanceof FloatParam) && json.isIntegralNumber()) {
      return JSON.getNodeFactory().numberNode(json.doubleValue());
    }
    if (param instanceof DoubleArrayParam && json.isArray()) {
      ArrayNode out = JSON.createArrayNode();
      json.forEach(v -> out.add(v.isIntegralNumber() ? out.numberNode(v.doubleValue()) : v));
      return out;
    }
    return json;
  }

  private static IllegalArgumentException badParam(
      String file, String section, String name, JsonNode json, String problem, Exception cause) {
    String shown = json.toString();
    if (shown.length() > 80) {
      shown = shown.substring(0, 77) + "...";
    }
    return new IllegalArgumentException(
        "Param '" + name + "' in " + file + " (" + section + ") " + problem + "; value " + shown,
        cause);
  }

  // ---------------------------------------------------------------------------------------------
  // The application's web UI. Spark has no public API for a UI tab; SparkUITab, WebUIPage and
  // UIUtils are private[spark] in Scala but public in bytecode, and are what Spark's own SQL and
  // streaming tabs use.

  /**
   * Adds a tab named {@code prefix} (capitalized) to {@code sc}'s web UI, at {@code /<prefix>/},
   * whose body is {@code xhtml} (one well-formed element, produced again for every request, so it
   * shows live state); returns false, doing nothing, when the UI is off ({@code
   * spark.ui.enabled=false}).
   */
  public static boolean attachUiTab(SparkContext sc, String prefix, Supplier<String> xhtml) {
    scala.Option<SparkUI> ui = sc.ui();
    if (ui.isEmpty()) {
      return false;
    }
    attachUiTab(ui.get(), prefix, xhtml);
    return true;
  }

  /** {@link #attachUiTab(SparkContext, String, Supplier)} on a given UI (tests make their own). */
  public static void attachUiTab(SparkUI ui, String prefix, Supplier<String> xhtml) {
    HtmlTab tab = new HtmlTab(ui, prefix);
    tab.attachPage(new HtmlPage(tab, xhtml));
    ui.attachTab(tab);
  }

  private static final class HtmlTab extends SparkUITab {
    HtmlTab(SparkUI ui, String prefix) {
      super(ui, prefix);
    }
  }

  private static final class HtmlPage extends WebUIPage {
    private final HtmlTab tab;
    private final Supplier<String> xhtml;

    HtmlPage(HtmlTab tab, Supplier<String> xhtml) {
      super("");
      this.tab = tab;
      this.xhtml = xhtml;
    }

    @Override
    public scala.collection.immutable.Seq<Node> render(HttpServletRequest request) {
      Node body = XML$.MODULE$.loadString(xhtml.get());
      return UIUtils.headerSparkPage(
          request, tab.name(), () -> body, tab, scala.Option.empty(), false, false);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Spark's RPC environment, for the training stage's step exchange (StageTraining).

  /** This JVM's Spark RPC environment (the driver's on the driver, the executor's elsewhere). */
  public static RpcEnv rpcEnv() {
    return SparkEnv.get().rpcEnv();
  }

  /** Registers {@code endpoint} on the driver's RPC environment under {@code name}. */
  public static RpcEndpointRef setupDriverEndpoint(String name, RpcEndpoint endpoint) {
    return rpcEnv().setupEndpoint(name, endpoint);
  }

  /** Unregisters an endpoint set up with {@link #setupDriverEndpoint}. */
  public static void stopEndpoint(RpcEndpointRef ref) {
    rpcEnv().stop(ref);
  }

  /** A reference, from an executor (or the driver), to the driver's endpoint {@code name}. */
  public static RpcEndpointRef driverEndpoint(String name) {
    SparkEnv env = SparkEnv.get();
    return RpcUtils.makeDriverRef(name, env.conf(), env.rpcEnv());
  }

  /**
   * Sends {@code message} to {@code ref}; the reply, of type {@code replyType}, completes the
   * future (exceptionally when the endpoint sends a failure or after {@code timeoutMillis}).
   */
  public static <T> CompletableFuture<T> ask(
      RpcEndpointRef ref, Object message, Class<T> replyType, long timeoutMillis) {
    RpcTimeout timeout =
        new RpcTimeout(
            Duration.create(timeoutMillis, TimeUnit.MILLISECONDS), StageTraining.TIMEOUT_CONF);
    scala.concurrent.Future<T> reply =
        ref.ask(message, timeout, ClassTag$.MODULE$.<T>apply(replyType));
    return FutureConverters.asJava(reply).toCompletableFuture();
  }

  /**
   * Spark's serialized form of the RPC answer {@code answer}, as {@link RpcCallContext#reply} sends
   * it to a remote asker: made once, sent to many with {@link #replySerialized}. A training stage's
   * driver answers every task with the same step, which {@code reply} would serialize (through Java
   * serialization, about 0.4 ms per MB) once per task.
   */
  public static ByteBuffer serializeAnswer(Object answer) {
    return ((NettyRpcEnv) rpcEnv()).serialize(answer);
  }

  /** Whether {@code context} answers an ask from another JVM (whose answer Spark serializes). */
  public static boolean remote(RpcCallContext context) {
    return context instanceof RemoteNettyRpcCallContext;
  }

  /**
   * Answers the remote ask {@code context} ({@link #remote}) with an answer serialized by {@link
   * #serializeAnswer}, exactly as its {@code reply} would send it after serializing: through the
   * transport's response callback, which {@code RemoteNettyRpcCallContext} keeps in a private
   * field. Each call sends a view of {@code serialized}, which is neither consumed nor changed.
   */
  public static void replySerialized(RpcCallContext context, ByteBuffer serialized) {
    RpcResponseCallback callback;
    try {
      callback = (RpcResponseCallback) CALLBACK.get(context);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("Spark's RPC answer callback is not readable", e);
    }
    callback.onSuccess(serialized.duplicate());
  }

  private static final Field CALLBACK = callbackField();

  private static Field callbackField() {
    try {
      Field f = RemoteNettyRpcCallContext.class.getDeclaredField("callback");
      f.setAccessible(true);
      return f;
    } catch (NoSuchFieldException e) {
      throw new IllegalStateException(
          "this Spark version's RemoteNettyRpcCallContext has no callback field", e);
    }
  }

  /** How many tasks of the default resource profile the cluster can run at once now. */
  public static int taskSlots(SparkContext sc) {
    return sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
  }
}
