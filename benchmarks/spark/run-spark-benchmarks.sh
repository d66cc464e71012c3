#!/usr/bin/env bash
# Ember's Spark integration on local[2]: batch inference (SparkInferenceBenchmark) and training
# (SparkTrainingBenchmark) against Spark MLlib and the standalone engine. See benchmarks/README.md,
# section "Spark integration".
#
# Usage: benchmarks/spark/run-spark-benchmarks.sh [inference|training|all] [-- harness options]
#   e.g. benchmarks/spark/run-spark-benchmarks.sh inference -- --runs 7 --batch-sizes 256,1024
# Environment: BUILD=0 skips the Maven build; MVN_OPTS (default "-o") is passed to Maven;
#   ROUNDS (1): how many times each harness runs (inference, training, inference, ... when
#   "all"); OUT (benchmarks/target/spark-benchmark): logs; WORK (benchmarks/target/spark-bench):
#   the Parquet files (written on the first run); JFR=1 records each run with JFR
#   (settings=profile) into $OUT; JAVA_EXTRA: more JVM flags; WAIT_QUIET (0): before each run,
#   wait up to this many seconds for the 1-minute load average to drop below MAX_LOAD (1.5);
#   DDP_BATCHES (128,512): the global batches of the PyTorch DDP peer (benchmarks/peers/ddp_train.py,
#   run after each training harness when /usr/bin/python3 has torch).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SELF")/../.." && pwd)
cd "$ROOT"
WHAT=${1:-all}
shift || true
if [[ "${1:-}" == -- ]]; then shift; fi
BUILD=${BUILD:-1}
MVN_OPTS=${MVN_OPTS:--o}
ROUNDS=${ROUNDS:-1}
OUT=${OUT:-benchmarks/target/spark-benchmark}
WORK=${WORK:-benchmarks/target/spark-bench}
mkdir -p "$OUT" "$WORK"

if [[ "$BUILD" == 1 ]]; then
  # shellcheck disable=SC2086
  mvn $MVN_OPTS -B -q install -DskipTests -Dspotless.check.skip -pl benchmarks -am 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g'
fi
CP="benchmarks/target/classes:$(cat benchmarks/target/spark.classpath)"

# The parent pom's ember.jvm.opens (Spark's module opens; Arrow needs java.nio), default JIT.
read -r -a OPENS <<<"$(sed -n '/<ember.jvm.opens>/,/<\/ember.jvm.opens>/p' pom.xml |
  sed -e 's/<[^>]*>//g' | tr '\n' ' ')"
export SPARK_LOCAL_IP=127.0.0.1
read -r -a EXTRA <<<"${JAVA_EXTRA:-}"

wait_quiet() {
  local waited=0
  while ((waited < ${WAIT_QUIET:-0})) &&
    awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="${MAX_LOAD:-1.5}" 'BEGIN { exit !(l >= m) }'; do
    sleep 10
    waited=$((waited + 10))
  done
}

run() { # main-class log-name args...
  local cls=$1 name=$2
  shift 2
  wait_quiet
  local jfr=()
  if [[ "${JFR:-0}" == 1 ]]; then
    jfr=("-XX:StartFlightRecording=filename=$OUT/$name.jfr,settings=profile")
  fi
  echo "== $cls $* (load $(cut -d' ' -f1-3 /proc/loadavg)) -> $OUT/$name.log"
  java "${OPENS[@]}" -Xmx8g -Dlog4j2.configurationFile="$ROOT/benchmarks/spark/log4j2.properties" \
    "${jfr[@]}" "${EXTRA[@]}" -cp "$CP" "$cls" --work-dir "$WORK" "$@" 2>&1 | tee "$OUT/$name.log" |
    grep -E '^(SUMMARY|RATIO|BOUND|OVERHEAD|RUN|load|session|wrote|Ember model|MLlib model|[0-9]+ rows)|training stage of epoch|Exception|Error'
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

ddp() { # the PyTorch DDP peer (gloo, 2 ranks x 1 thread), beside SparkTrainingBenchmark
  wait_quiet
  if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "== ddp_train.py skipped: /usr/bin/python3 has no torch (apt-get install python3-torch)"
    return
  fi
  echo "== ddp_train.py --batches ${DDP_BATCHES:-128,512} (load $(cut -d' ' -f1-3 /proc/loadavg)) -> $OUT/$1.log"
  # Debian's torch links the reference BLAS unless pointed at OpenBLAS (libopenblas0-openmp): 4x.
  local blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
  [[ -d $blas ]] || echo "warning: $blas missing (apt-get install libopenblas0-openmp): DDP runs on the reference BLAS"
  # gloo's TCP pairs occasionally abort at start-up on loopback ("op.preamble.length <=
  # op.nbytes"); one more try then, in the same minute, keeps the comparison in the same run.
  local try
  for try in 1 2; do
    if LD_LIBRARY_PATH=$blas /usr/bin/python3 benchmarks/peers/ddp_train.py \
      --batches "${DDP_BATCHES:-128,512}" >"$OUT/$1.log" 2>&1; then
      break
    fi
    echo "ddp_train.py failed (try $try): $(grep -m1 -E 'what\(\)|Error' "$OUT/$1.log")"
  done
  grep -E '^(SUMMARY|#)|Error' "$OUT/$1.log" || true
}

for ((r = 1; r <= ROUNDS; r++)); do
  case "$WHAT" in
    inference) run org.emberdl.benchmarks.SparkInferenceBenchmark "inference-$r" "$@" ;;
    training)
      run org.emberdl.benchmarks.SparkTrainingBenchmark "training-$r" "$@"
      ddp "ddp-$r"
      ;;
    all)
      run org.emberdl.benchmarks.SparkInferenceBenchmark "inference-$r"
      run org.emberdl.benchmarks.SparkTrainingBenchmark "training-$r"
      ddp "ddp-$r"
      ;;
    *)
      echo "usage: $0 [inference|training|all] [-- options]" >&2
      exit 2
      ;;
  esac
done
