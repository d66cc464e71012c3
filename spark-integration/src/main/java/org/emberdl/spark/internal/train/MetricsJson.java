package org.emberdl.spark.internal.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.spark.EpochMetrics;

/**
 * Epoch metrics to and from JSON-ready maps. Doubles are written as strings so that NaN and
 * infinities (no validation, a diverged loss) survive JSON.
 */
public final class MetricsJson {
  private MetricsJson() {}

  public static List<Map<String, Object>> toJson(List<EpochMetrics> epochs) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (EpochMetrics e : epochs) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("epoch", e.epoch());
      m.put("loss", String.valueOf(e.loss()));
      m.put("accuracy", String.valueOf(e.accuracy()));
      m.put("samplesPerSecond", String.valueOf(e.samplesPerSecond()));
      m.put("validationLoss", String.valueOf(e.validationLoss()));
      m.put("validationAccuracy", String.valueOf(e.validationAccuracy()));
      m.put("seconds", String.valueOf(e.seconds()));
      m.put("epsilon", String.valueOf(e.epsilon()));
      out.add(m);
    }
    return out;
  }

  public static List<EpochMetrics> fromJson(List<Map<String, Object>> list) {
    List<EpochMetrics> out = new ArrayList<>();
    for (Map<String, Object> m : list) {
      out.add(
          new EpochMetrics(
              ((Number) m.get("epoch")).intValue(),
              d(m, "loss"),
              d(m, "accuracy"),
              d(m, "samplesPerSecond"),
              d(m, "validationLoss"),
              d(m, "validationAccuracy"),
              d(m, "seconds"),
              m.containsKey("epsilon") ? d(m, "epsilon") : Double.NaN));
    }
    return out;
  }

  private static double d(Map<String, Object> m, String key) {
    return Double.parseDouble(String.valueOf(m.get(key)));
  }
}
