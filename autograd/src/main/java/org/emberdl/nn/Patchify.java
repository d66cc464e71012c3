package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;

/**
 * Cuts images into non-overlapping {@code P x P} patches, as ViT's patch embedding before its
 * projection: {@code (N, C, H, W) -> (N, (H / P) * (W / P), C * P * P)}, patches in row-major
 * order, each flattened as {@code (C, P, P)} (the order of a {@code Conv2d(C, D, P, stride=P)}
 * weight's input dims, so a {@link Linear} after it equals that convolution). One copy.
 */
public class Patchify extends Module {
  private final int patch;

  public Patchify(int patch) {
    if (patch <= 0) {
      throw new IllegalArgumentException("patch size must be positive, got " + patch);
    }
    this.patch = patch;
  }

  @Override
  public Tensor forward(Tensor input) {
    int[] s = input.shape();
    if (s.length != 4 || s[2] % patch != 0 || s[3] % patch != 0) {
      throw new IllegalArgumentException(
          "Patchify("
              + patch
              + ") expects (N, C, H, W) images with H and W multiples of "
              + patch
              + ", got "
              + Arrays.toString(s));
    }
    int n = s[0];
    int c = s[1];
    int gh = s[2] / patch;
    int gw = s[3] / patch;
    try (Tensor split = input.reshape(n, c, gh, patch, gw, patch);
        Tensor perm = split.permute(0, 2, 4, 1, 3, 5)) {
      return perm.reshape(n, gh * gw, c * patch * patch);
    }
  }

  public int patch() {
    return patch;
  }

  @Override
  public String toString() {
    return "Patchify(" + patch + ")";
  }
}
