#!/usr/bin/env bash
# Ember without Spark: set up, build, and train the 784-256-128-10 MLP on Fashion-MNIST for 5
# epochs (Adam 1e-3, batch 128) on this machine's cores, printing loss and accuracy per epoch and
# saving the weights as safetensors. Extra arguments go to the trainer, e.g.
# `scripts/run-standalone.sh --model cnn --epochs 2`. (Also `scripts/run-main-job.sh --standalone`.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mvn -B -ntp -q -Dstyle.color=never package -DskipTests -Dspotless.check.skip=true -pl examples -am
# shellcheck disable=SC2046
exec java $(cat examples/target/jvm-opens.txt) \
  -cp "examples/target/classes:$(cat examples/target/runtime-classpath.txt)" \
  org.emberdl.examples.FashionMnistTraining "$@"
