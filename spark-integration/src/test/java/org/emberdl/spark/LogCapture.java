package org.emberdl.spark;

import java.util.ArrayList;
import java.util.List;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.Property;

/**
 * Collects the WARN-or-worse lines (or, when asked, those at a lower level) one class logs while it
 * is open (tests only).
 */
public final class LogCapture implements AutoCloseable {
  private final Logger logger;
  private final AbstractAppender appender;
  private final List<String> lines = new ArrayList<>();
  private final Level restore;

  public LogCapture(Class<?> source) {
    this(source, null);
  }

  /** Also captures {@code level} and above, lowering the class's level while open. */
  public LogCapture(Class<?> source, Level level) {
    logger = (Logger) LogManager.getLogger(source);
    restore = level == null ? null : logger.getLevel();
    if (level != null) {
      Configurator.setLevel(source.getName(), level);
    }
    appender =
        new AbstractAppender(
            "capture-" + source.getSimpleName(), null, null, true, Property.EMPTY_ARRAY) {
          @Override
          public void append(LogEvent event) {
            synchronized (lines) {
              lines.add(event.getLevel() + " " + event.getMessage().getFormattedMessage());
            }
          }
        };
    appender.start();
    logger.addAppender(appender);
  }

  /** The lines captured so far that contain {@code text}. */
  public List<String> containing(String text) {
    synchronized (lines) {
      return lines.stream().filter(l -> l.contains(text)).toList();
    }
  }

  /** Every line captured so far. */
  public List<String> lines() {
    synchronized (lines) {
      return List.copyOf(lines);
    }
  }

  @Override
  public void close() {
    logger.removeAppender(appender);
    appender.stop();
    if (restore != null) {
      Configurator.setLevel(logger.getName(), restore);
    }
  }
}
