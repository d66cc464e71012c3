package org.emberdl.spark.internal.train;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.emberdl.spark.internal.io.Checkpoints.PrivacySteps;
import org.emberdl.spark.internal.io.Checkpoints.Progress;

/**
 * A checkpoint's {@code progress.json}. Doubles that may be infinite or NaN, and those that must
 * come back bit for bit (the privacy ledger's q and sigma), are written as Java's decimal strings.
 */
public final class ProgressJson {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

  /** The version written; 1 (no settings, no privacy ledger) is refused. */
  static final int FORMAT = 2;

  private ProgressJson() {}

  public static byte[] toBytes(Progress p) throws IOException {
    return JSON.writeValueAsBytes(toJson(p));
  }

  /**
   * @throws IOException for malformed JSON
   * @throws IllegalArgumentException naming the field that is missing or of the wrong type, or for
   *     a format other than {@link #FORMAT}
   */
  public static Progress fromBytes(byte[] bytes) throws IOException {
    return fromJson(JSON.readValue(bytes, MAP));
  }

  private static Map<String, Object> toJson(Progress p) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", FORMAT);
    m.put("epochsDone", p.epochsDone());
    m.put("settings", p.settings());
    m.put("bestValidationLoss", String.valueOf(p.bestValidationLoss()));
    m.put("bestEpoch", p.bestEpoch());
    m.put("epochsWithoutImprovement", p.epochsWithoutImprovement());
    List<Map<String, Object>> ledger = new ArrayList<>();
    for (PrivacySteps s : p.privacy()) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("samplingRate", String.valueOf(s.samplingRate()));
      e.put("noiseMultiplier", String.valueOf(s.noiseMultiplier()));
      e.put("steps", s.steps());
      ledger.add(e);
    }
    m.put("privacy", ledger);
    m.put("history", MetricsJson.toJson(p.history()));
    return m;
  }

  @SuppressWarnings("unchecked")
  private static Progress fromJson(Map<String, Object> m) {
    Object format = m.get("format");
    if (!(format instanceof Number n) || n.intValue() != FORMAT) {
      throw new IllegalArgumentException(
          format == null
              ? "written by an earlier Ember, which did not record the training settings and the"
                  + " privacy ledger needed to resume honestly"
              : "format " + format + ", this Ember reads format " + FORMAT);
    }
    Map<String, String> settings = new LinkedHashMap<>();
    ((Map<String, Object>) field(m, "settings", Map.class))
        .forEach((k, v) -> settings.put(k, String.valueOf(v)));
    List<PrivacySteps> privacy = new ArrayList<>();
    for (Object o : field(m, "privacy", List.class)) {
      Map<String, Object> e = (Map<String, Object>) o;
      privacy.add(
          new PrivacySteps(
              Double.parseDouble(field(e, "samplingRate", String.class)),
              Double.parseDouble(field(e, "noiseMultiplier", String.class)),
              field(e, "steps", Number.class).longValue()));
    }
    return new Progress(
        field(m, "epochsDone", Number.class).intValue(),
        settings,
        Double.parseDouble(field(m, "bestValidationLoss", String.class)),
        field(m, "bestEpoch", Number.class).intValue(),
        field(m, "epochsWithoutImprovement", Number.class).intValue(),
        new ArrayList<>(
            MetricsJson.fromJson((List<Map<String, Object>>) field(m, "history", List.class))),
        privacy);
  }

  private static <T> T field(Map<String, Object> m, String name, Class<T> type) {
    Object v = m.get(name);
    if (!type.isInstance(v)) {
      throw new IllegalArgumentException(
          "field '"
              + name
              + "' should be a "
              + type.getSimpleName().toLowerCase(Locale.ROOT)
              + ", found "
              + (v == null ? "nothing" : v));
    }
    return type.cast(v);
  }
}
