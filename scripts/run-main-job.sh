#!/usr/bin/env bash
# The README's first command: set up, build, and run Ember's main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mvn -B -ntp -q -Dstyle.color=never install -DskipTests -Dspotless.check.skip=true -pl tensor -am
cp=$(mvn -B -ntp -q -Dstyle.color=never -pl tensor dependency:build-classpath -Dmdep.outputFile=/dev/stdout \
  -Dmdep.includeScope=runtime | sed 's/\x1b\[[0-9;]*m//g')
opens=$(mvn -B -ntp -q -Dstyle.color=never help:evaluate -Dexpression=ember.jvm.opens -DforceStdout -N \
  | sed 's/\x1b\[[0-9;]*m//g')
# shellcheck disable=SC2086
exec java $opens -cp "tensor/target/classes:$cp" org.emberdl.tensor.demo.TensorDemo "$@"
