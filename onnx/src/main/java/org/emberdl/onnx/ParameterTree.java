package org.emberdl.onnx;

import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;
import org.emberdl.tensor.NDArray;

/**
 * A container module that only holds parameters, buffers and further containers, so that an
 * initializer named {@code block1.conv1.weight} is the parameter {@code weight} of container {@code
 * conv1} inside container {@code block1}: {@code namedParameters()} and the state dict then use the
 * ONNX (= PyTorch state dict) names.
 */
final class ParameterTree extends Module {
  @Override
  public Tensor forward(Tensor input) {
    throw new UnsupportedOperationException(
        "a container of an imported ONNX graph's weights; run the OnnxModule that holds it");
  }

  Parameter addParameter(String name, NDArray data) {
    return registerParameter(name, data);
  }

  void addBuffer(String name, NDArray data) {
    registerBuffer(name, data);
  }

  NDArray getBuffer(String name) {
    return buffer(name);
  }

  ParameterTree child(String name) {
    Module m = children().get(name);
    if (m instanceof ParameterTree t) {
      return t;
    }
    return registerModule(name, new ParameterTree());
  }

  @Override
  public String toString() {
    return "ParameterTree";
  }
}
