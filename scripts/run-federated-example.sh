#!/usr/bin/env bash
# Federated learning with client-level differential privacy and secure aggregation on Spark:
# Fashion-MNIST split non-IID across 10 clients (NIID-Bench's Dirichlet(0.5) label skew; set
# SPLIT=shards for McMahan et al.'s two label-sorted shards per client, where a client holds one or
# two classes), trained with DP-FedAvg (each round every client is sampled with probability
# --client-fraction, trains --local-epochs epochs with SGD and clips its delta to --clip; the
# deltas are summed by secure aggregation, so the driver never sees one client's update, and the
# clients add the Gaussian noise before masking; the server applies momentum 0.9), then scored on
# the 10,000 test images. With only 10 clients, client-level DP is weak: the noise multiplier 0.05
# used here spends an epsilon in the thousands (see the README).
#
# It runs the examples jar on embedded Spark (local[2]) exactly as spark-submit would run it on a
# cluster; the spark-submit form of each step is printed first. Arguments go to `train` and
# replace the example's settings (e.g. `--epochs 5`, `--noise-multiplier 0`, `--aggregation
# fedavg`). Files go to
# target/ember-federated-<split>.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mvn -B -ntp -q -Dstyle.color=never package -DskipTests -Dspotless.check.skip=true -pl examples -am
jars=(examples/target/ember-examples-*-spark.jar)
split=${SPLIT:-dirichlet}
work=target/ember-federated-$split
export SPARK_LOCAL_IP=127.0.0.1

cli() {
  echo "+ spark-submit --master <URL> --class org.emberdl.examples.EmberCli ${jars[0]} $*"
  # shellcheck disable=SC2046
  java $(cat examples/target/jvm-opens.txt) -cp "${jars[0]}:$(cat examples/target/spark-classpath.txt)" \
    org.emberdl.examples.EmberCli "$@" --master 'local[2]'
}

if [ ! -d "$work/data/train.parquet" ]; then
  cli convert --fashion-mnist /usr/share/datasets/fashion-mnist --out "$work/data" \
    --clients 10 --split "$split"
fi
# train's settings: the example's, unless given on the command line
args=("$@")
default() {
  local name=$1
  shift
  for a in "${args[@]}"; do
    if [ "$a" = "$name" ] || [[ "$a" == "$name="* ]]; then return; fi
  done
  args+=("$name" "$@")
}
flag() {
  for a in "${args[@]}"; do
    if [ "$a" = "$1" ]; then return; fi
  done
  args+=("$1")
}
default --aggregation dp-fedavg
default --client-col client
default --secure-aggregation true
default --client-fraction 1
default --local-epochs 1
default --batch-size 64
default --optimizer sgd
default --lr 0.02
default --server-optimizer momentum
default --server-momentum 0.9
# the privacy settings only with a private aggregation (train refuses them otherwise)
aggregation=dp-fedavg
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --aggregation) aggregation=${args[$((i + 1))]:-} ;;
    --aggregation=*) aggregation=${args[$i]#--aggregation=} ;;
  esac
done
if [ "$aggregation" = dp-fedavg ] || [ "$aggregation" = dp-sgd ]; then
  default --clip 1
  default --noise-multiplier 0.05
fi
default --epochs 20
default --partitions 2
# a rerun replaces the previous model and predictions (only Ember's own outputs are replaced)
flag --overwrite
cli train --data "$work/data/train.parquet" --model-out "$work/model" "${args[@]}"
cli predict --model "$work/model" --data "$work/data/test.parquet" --out "$work/predictions.parquet" \
  --overwrite
