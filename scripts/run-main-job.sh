#!/usr/bin/env bash
# The README's first command: set up (JDK, Maven, the Fashion-MNIST package), build, and train
# the 784-256-128-10 MLP on Fashion-MNIST for 5 epochs (Adam 1e-3, batch 128), printing loss and
# accuracy per epoch and saving the weights as safetensors. Extra arguments go to the trainer,
# e.g. `scripts/run-main-job.sh --model cnn --epochs 2`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mvn -B -ntp -q -Dstyle.color=never install -DskipTests -Dspotless.check.skip=true -pl examples -am
strip() { sed 's/\x1b\[[0-9;]*m//g'; }
cp=$(mvn -B -ntp -q -Dstyle.color=never -pl examples dependency:build-classpath \
  -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=runtime | strip)
opens=$(mvn -B -ntp -q -Dstyle.color=never help:evaluate -Dexpression=ember.jvm.opens \
  -DforceStdout -N | strip)
# shellcheck disable=SC2086
exec java $opens -cp "examples/target/classes:$cp" \
  org.emberdl.examples.FashionMnistTraining "$@"
