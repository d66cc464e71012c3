package org.emberdl.examples;

import java.util.concurrent.Callable;
import org.emberdl.examples.EmberCli.ExportArgs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code export}: write a saved model as an ONNX file. */
@Command(
    name = "export",
    sortOptions = false,
    abbreviateSynopsis = true,
    usageHelpWidth = 100,
    description = {
      "write a saved model as an ONNX file, for any ONNX serving stack",
      "",
      "Writes the network of a model saved by train, with its weights, as an ONNX model: input"
          + " 'input' of shape (batch, input shape...), output 'output' (the logits), a dynamic"
          + " batch dim, initializers named by the PyTorch-style state-dict keys. A network with a"
          + " layer that has no ONNX mapping fails naming the layer, and nothing is written. The"
          + " file is written beside --onnx and moved into place when complete."
    })
final class ExportCommand implements Callable<Integer>, EmberCli.SettingsCommand {
  @Spec CommandSpec spec;
  @ParentCommand EmberCli cli;

  @Option(
      names = "--model",
      required = true,
      paramLabel = "DIR",
      description = "a model saved by train (required)")
  String model;

  @Option(
      names = "--onnx",
      required = true,
      paramLabel = "FILE",
      description =
          "the ONNX file to write, on the local file system (required; an existing one only with"
              + " --overwrite)")
  String onnx;

  @Option(
      names = "--overwrite",
      description = "replace an existing --onnx, if it is an ONNX model (anything else is refused)")
  boolean overwrite;

  @Mixin CommonOptions common;

  @Override
  public Integer call() {
    ExportArgs a = settings();
    return cli.execute("export", common.verbose, () -> SparkJobs.export(a, cli.out));
  }

  @Override
  public ExportArgs settings() {
    int colon = onnx.indexOf(':');
    int slash = onnx.indexOf('/');
    if (colon > 0 && (slash < 0 || colon < slash) && !onnx.startsWith("file:")) {
      throw new ParameterException(
          spec.commandLine(), "--onnx must be a local file, got '" + onnx + "'");
    }
    return new ExportArgs(
        model,
        onnx.startsWith("file:") ? java.net.URI.create(onnx).getPath() : onnx,
        common.master,
        overwrite);
  }
}
