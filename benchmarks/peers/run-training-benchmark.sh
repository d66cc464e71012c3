#!/usr/bin/env bash
# Training throughput, Ember against its peers, measured in one run on this machine:
#   Ember (org.emberdl.benchmarks.TrainingThroughput),
#   PyTorch from Debian's python3-torch (benchmarks/peers/pytorch_train.py) on OpenMP OpenBLAS,
#   DJL 0.35.1 + libtorch 2.7.1 (org.emberdl.benchmarks.peers.DjlTrainingThroughput, -Ppeers),
#   ONNX Runtime for Java (org.emberdl.benchmarks.OrtInferenceThroughput, system `ort`): only the
#   forward-only row infer:B, on the MLP that pytorch_train.py exports to ONNX at the start of the
#   run (benchmarks/target/training-benchmark/mlp.onnx).
# Each system runs at 1 and 2 threads; the processes are interleaved (A B C A B C ...) so that
# drift in the machine's load hits all of them alike. Prints the median samples/s per cell, the
# ratios Ember / best peer, and the CPU time other processes took while each system ran.
#
# Usage: benchmarks/peers/run-training-benchmark.sh       (from anywhere; needs root for apt-get)
# Environment: ROUNDS (3), REPS per process and configuration (3), REP_SECONDS (1.0),
#   WARMUP_SECONDS (3.0), THREADS ("1 2"),
#   CONFIGS (mlp:64,mlp:256,mlp:1024,cnn:128,lstm:128,vit:128,infer:4096;
#   lstm: Fashion-MNIST as 28 steps of 28 pixels, LSTM(128), last step, linear(10); vit: the
#   examples' patch transformer (benchmarks/peers/peer_models.py on PyTorch's side); DJL's side
#   has neither and skips them; infer: forward only, the MLP in eval mode without autograd
#   (Ember NoGrad, PyTorch inference_mode, ONNX Runtime), logits read back; only ort runs it alone),
#   SYSTEMS ("ember pytorch ort djl"), SETUP=0 to skip apt-get and the Maven builds,
#   MAX_OTHER (0.2): a process's timings count only if other processes used at most this many
#   cores while it ran (where no process of a cell qualifies, all count and the cell gets a *);
#   before each process the script waits up to WAIT_QUIET (300) seconds for other processes to
#   drop below MAX_OTHER, and after the ROUNDS rounds it runs extra rounds (up to MAX_ROUNDS, 8)
#   of the system/thread cells that have fewer than MIN_QUIET (2) quiet processes.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SELF")/../.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
REP_SECONDS=${REP_SECONDS:-1.0}
WARMUP_SECONDS=${WARMUP_SECONDS:-3.0}
THREADS=${THREADS:-"1 2"}
CONFIGS=${CONFIGS:-mlp:64,mlp:256,mlp:1024,cnn:128,lstm:128,vit:128,infer:4096}
SYSTEMS=${SYSTEMS:-"ember pytorch ort djl"}
SETUP=${SETUP:-1}
MAX_OTHER=${MAX_OTHER:-0.2}
MIN_QUIET=${MIN_QUIET:-2}
MAX_ROUNDS=${MAX_ROUNDS:-8}
WAIT_QUIET=${WAIT_QUIET:-300}
OMP_BLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-openmp
PY=/usr/bin/python3 # Debian's interpreter: python3-torch lives in its dist-packages
OUT=benchmarks/target/training-benchmark
mkdir -p "$OUT"
RAW="$OUT/results.txt"
LOG="$OUT/run.log"

JAR=benchmarks/target/benchmarks.jar
# The JVM flags Ember's tests use (the parent pom's ember.jvm.opens).
read -r -a OPENS <<<"$(sed -n '/<ember.jvm.opens>/,/<\/ember.jvm.opens>/p' pom.xml |
  sed -e 's/<[^>]*>//g' | tr '\n' ' ')"
COMMON=(--reps "$REPS" --rep-seconds "$REP_SECONDS" --warmup-seconds "$WARMUP_SECONDS"
  --configs "$CONFIGS")
# DjlTrainingThroughput has only the mlp and cnn networks: its rows for other models stay empty.
DJL_CONFIGS=$(tr ',' '\n' <<<"$CONFIGS" | { grep -E '^(mlp|cnn):' || true; } | paste -sd, -)
# ONNX Runtime scores only; it runs the forward-only rows.
ORT_CONFIGS=$(tr ',' '\n' <<<"$CONFIGS" | { grep -E '^infer:' || true; } | paste -sd, -)
ONNX_MLP="$OUT/mlp.onnx"

run_system() { # system threads
  local sys=$1 t=$2
  case "$sys" in
    ember)
      java "${OPENS[@]}" -Xms2g -Xmx4g -Demberdl.threads="$t" -cp "$JAR" \
        org.emberdl.benchmarks.TrainingThroughput --threads "$t" "${COMMON[@]}"
      ;;
    pytorch)
      # Its best BLAS: OpenMP OpenBLAS shares libtorch's OpenMP pool (the pthread build brings a
      # second spinning pool that oversubscribes at 2 threads; see shared PERFORMANCE-NOTES).
      OMP_NUM_THREADS="$t" LD_LIBRARY_PATH="$OMP_BLAS_DIR" "$PY" benchmarks/peers/pytorch_train.py \
        --threads "$t" --label pytorch "${COMMON[@]}"
      ;;
    djl)
      if [[ -z "$DJL_CONFIGS" ]]; then
        echo "djl: no mlp/cnn configuration in $CONFIGS, nothing to run"
        return 0
      fi
      OMP_NUM_THREADS="$t" java -Dai.djl.offline=true -Xmx4g -cp "$PEERS_CP" \
        org.emberdl.benchmarks.peers.DjlTrainingThroughput --threads "$t" --label djl \
        "${COMMON[@]:0:6}" --configs "$DJL_CONFIGS"
      ;;
    ort)
      if [[ -z "$ORT_CONFIGS" ]]; then
        echo "ort: no infer configuration in $CONFIGS, nothing to run"
        return 0
      fi
      # onnxruntime's jar (natives inside) is on the package phase's runtime classpath, not in
      # benchmarks.jar.
      if [[ -z "$ORT_JAR" ]]; then
        echo "ort: no onnxruntime jar in benchmarks/target/spark.classpath" \
          "(written by mvn package -pl benchmarks -am)" >&2
        return 1
      fi
      java "${OPENS[@]}" -Xms2g -Xmx4g -cp "$JAR:$ORT_JAR" org.emberdl.benchmarks.OrtInferenceThroughput \
        --model "$ONNX_MLP" --threads "$t" --label ort "${COMMON[@]:0:6}" --configs "$ORT_CONFIGS"
      ;;
    *)
      echo "unknown system $sys" >&2
      return 1
      ;;
  esac
}

# One system at one thread count (the script calls itself so that /usr/bin/time can measure it).
if [[ "${1:-}" == --one ]]; then
  # DJL's classpath exists only after the peers profile's build; ember and pytorch need none.
  PEERS_CP="benchmarks/target/classes:$(cat benchmarks/target/peers.classpath 2>/dev/null || true)"
  ORT_JAR=$({ tr ':' '\n' <benchmarks/target/spark.classpath; } 2>/dev/null |
    { grep -m1 '/onnxruntime-[^/]*\.jar$' || true; } || true)
  run_system "$2" "$3"
  exit
fi

if [[ "$SETUP" == 1 ]]; then
  if ! "$PY" -c 'import torch' 2>/dev/null || [[ ! -e "$OMP_BLAS_DIR/libblas.so.3" ]]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch libopenblas0-openmp
  fi
  mvn -B -ntp -q install -DskipTests
  # DJL and libtorch (about 120 MB from Maven Central) come only with the peers profile.
  mvn -B -ntp -q package -DskipTests -pl benchmarks -Ppeers
fi

: >"$RAW"
: >"$LOG"
# The forward-only row's model for ONNX Runtime: PyTorch's MLP, exported now (never committed).
if [[ " $SYSTEMS " == *" ort "* && -n "$ORT_CONFIGS" ]]; then
  "$PY" benchmarks/peers/pytorch_train.py --export-onnx "$ONNX_MLP"
fi
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# Cores that other processes keep busy right now (sampled over 2 s while nothing of ours runs).
other_now() {
  local b0 b1
  b0=$(busy_jiffies)
  sleep 2
  b1=$(busy_jiffies)
  awk -v b="$((b1 - b0))" -v hz="$HZ" 'BEGIN{printf "%.2f", b / hz / 2}'
}

# Waits up to WAIT_QUIET seconds for the other processes to go below MAX_OTHER cores.
wait_quiet() {
  local waited=0 o
  while :; do
    o=$(other_now)
    if awk -v o="$o" -v m="$MAX_OTHER" 'BEGIN{exit !(o <= m)}' || ((waited >= WAIT_QUIET)); then
      break
    fi
    sleep 8
    waited=$((waited + 10))
  done
  ((waited == 0)) || echo "   waited ${waited}s for a quiet machine (other processes: $o cores)" | tee -a "$LOG"
}

# Runs one system at one thread count, appends its RESULT lines and a LOAD line to $RAW.
measure() { # round system threads
  local round=$1 sys=$2 t=$3 b0 b1 s0 s1 u s other
  wait_quiet
  echo "== round $round: $sys, $t thread(s); $(uptime | sed 's/.*load/load/')" | tee -a "$LOG"
  b0=$(busy_jiffies)
  s0=$(date +%s.%N)
  if ! /usr/bin/time -f "%U %S" -o "$OUT/cpu.txt" "$SELF" --one "$sys" "$t" >"$OUT/one.txt" \
    2>>"$LOG"; then
    echo "   $sys, $t thread(s) FAILED: see $LOG" | tee -a "$LOG"
  fi
  s1=$(date +%s.%N)
  b1=$(busy_jiffies)
  grep -v '^RESULT' "$OUT/one.txt" >>"$LOG" || true
  grep '^SUMMARY' "$OUT/one.txt" || true
  grep '^RESULT' "$OUT/one.txt" >>"$RAW" || true
  # CPU that everything else used while this system ran, in cores (of 2).
  read -r u s < <(tail -n 1 "$OUT/cpu.txt")
  other=$(awk -v b="$((b1 - b0))" -v hz="$HZ" -v u="$u" -v s="$s" -v t0="$s0" -v t1="$s1" \
    'BEGIN{o=(b/hz-u-s)/(t1-t0); if(o<0)o=0; printf "%.2f", o}')
  echo "LOAD $sys $t $round $other" >>"$RAW"
  echo "   other processes used $other cores meanwhile" | tee -a "$LOG"
}

quiet_count() { # system threads
  awk -v s="$1" -v t="$2" -v m="$MAX_OTHER" '$1=="LOAD" && $2==s && $3==t && $5<=m {n++} END{print n+0}' "$RAW"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" | tee -a "$LOG"
echo "libblas.so.3 default: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3); PyTorch runs with $OMP_BLAS_DIR" | tee -a "$LOG"
echo "rounds $ROUNDS (up to $MAX_ROUNDS until each cell has $MIN_QUIET quiet processes)," \
  "systems [$SYSTEMS], threads [$THREADS], configs $CONFIGS," \
  "$REPS reps x ~${REP_SECONDS}s after ${WARMUP_SECONDS}s warm-up" | tee -a "$LOG"
# Interleaved rounds: every system at every thread count, one after the other.
for round in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    for sys in $SYSTEMS; do
      measure "$round" "$sys" "$t"
    done
  done
done
# Extra rounds, still interleaved, for the cells that have too few quiet processes.
for round in $(seq $((ROUNDS + 1)) "$MAX_ROUNDS"); do
  ran=0
  for t in $THREADS; do
    for sys in $SYSTEMS; do
      if (($(quiet_count "$sys" "$t") < MIN_QUIET)); then
        measure "$round" "$sys" "$t"
        ran=1
      fi
    done
  done
  ((ran)) || break
done

"$PY" benchmarks/peers/training_table.py "$RAW" "$MAX_OTHER" | tee "$OUT/table.md"
echo "raw results: $RAW, log: $LOG, table: $OUT/table.md"
