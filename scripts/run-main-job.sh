#!/usr/bin/env bash
# The README's first command: set up (JDK, Maven, the Fashion-MNIST package), build, and run the
# whole Spark story on embedded Spark (local[*]): convert Fashion-MNIST to Parquet, train the MLP
# 784-256-128-10 with EmberClassifier (5 epochs, Adam 1e-3, batch 128, seed 42), save the model,
# reload it, score the 10,000 test images and print the test accuracy. It runs the same jar that
# spark-submit takes (examples/target/ember-examples-*-spark.jar), with Spark's jars beside it.
#
# Extra arguments go to the demo, e.g. `scripts/run-main-job.sh --epochs 1 --limit 10000`
# (`scripts/run-main-job.sh --help` lists them; files go to target/ember-demo by default, and a
# rerun replaces them: the script passes --overwrite, which replaces only an earlier demo's files).
# `scripts/run-main-job.sh --standalone [options]` runs the Spark-free trainer instead
# (scripts/run-standalone.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--standalone" ]; then
  shift
  exec scripts/run-standalone.sh "$@"
fi
scripts/setup.sh
# package (not install): the build writes the classpath and JVM flag files used below
mvn -B -ntp -q -Dstyle.color=never package -DskipTests -Dspotless.check.skip=true -pl examples -am
jars=(examples/target/ember-examples-*-spark.jar)
export SPARK_LOCAL_IP=127.0.0.1
# a rerun replaces the previous demo's outputs (the demo refuses any other non-empty --work)
args=("$@")
case " $* " in *" --overwrite "* | *" --help "* | *" -h "*) ;; *) args+=(--overwrite) ;; esac
# shellcheck disable=SC2046
exec java $(cat examples/target/jvm-opens.txt) \
  -cp "${jars[0]}:$(cat examples/target/spark-classpath.txt)" \
  org.emberdl.examples.EmberCli demo "${args[@]}"
