#!/usr/bin/env bash
# Federated learning with client-level differential privacy and secure aggregation on Spark:
# Fashion-MNIST split non-IID across 10 clients (two label-sorted shards each, so most clients
# hold two classes and some one), trained with DP-FedAvg (each round every client is sampled with
# probability --client-fraction, trains --local-epochs epochs locally, clips its delta to --clip;
# the deltas are summed by secure aggregation, so the driver never sees one client's update, and
# the clients add the Gaussian noise before masking), then scored on the 10,000 test images.
#
# It runs the examples jar on embedded Spark (local[2]) exactly as spark-submit would run it on a
# cluster; the spark-submit form of each step is printed first. Extra arguments go to `train`
# (e.g. `--epochs 5`, `--noise-multiplier 0`, `--aggregation fedavg`). Files go to
# target/ember-federated.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mvn -B -ntp -q -Dstyle.color=never package -DskipTests -Dspotless.check.skip=true -pl examples -am
jars=(examples/target/ember-examples-*-spark.jar)
work=target/ember-federated
export SPARK_LOCAL_IP=127.0.0.1

cli() {
  echo "+ spark-submit --master <URL> --class org.emberdl.examples.EmberCli ${jars[0]} $*"
  # shellcheck disable=SC2046
  java $(cat examples/target/jvm-opens.txt) -cp "${jars[0]}:$(cat examples/target/spark-classpath.txt)" \
    org.emberdl.examples.EmberCli "$@" --master 'local[2]'
}

if [ ! -d "$work/data/train.parquet" ]; then
  cli convert --fashion-mnist /usr/share/datasets/fashion-mnist --out "$work/data" --clients 10
fi
cli train --data "$work/data/train.parquet" --model-out "$work/model" \
  --aggregation dp-fedavg --client-col client --secure-aggregation true \
  --client-fraction 1 --local-epochs 1 --batch-size 64 --lr 1e-3 \
  --clip 1 --noise-multiplier 0.01 --epochs 20 "$@"
cli predict --model "$work/model" --data "$work/data/test.parquet" --out "$work/predictions.parquet"
