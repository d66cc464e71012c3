#!/usr/bin/env bash
# Ember's GPU check: the CUDA backend's conformance tests (BackendConformanceTest: every CUDA op
# against the CPU backend, with per-op float32 tolerances), HostReadsTest (every Java-side read of
# a cuda:0 array), autograd's DeviceGradCheckTest (every op's gradients on cuda:0 in float64 against
# finite differences and the CPU's) and DeviceTrainingTest (a 784-256-128-10 MLP with Adam, 30 steps
# on cuda:0 vs the CPU; and one epoch of Fashion-MNIST on a real GPU when the data is there), the
# driver probe's tests and the caching allocator's, run with -Dember.cuda.required=true so that a
# machine without a usable GPU FAILS instead of skipping; prints a summary table (one row per test
# and device) and, on a GPU, a GEMM benchmark.
#
# Two steps, because a GPU machine may reach no Maven registry:
#   scripts/gpu-check.sh --prepare   on a build machine (offline Maven, ~/.m2 with
#                                    org.bytedeco:cuda-redist): builds tensor (kernels included)
#                                    and autograd, and gathers everything the run needs into
#                                    tensor/target/gpu-check/ (about 41 MB); Fashion-MNIST (31 MB,
#                                    from /usr/share/datasets/fashion-mnist or $EMBER_FASHION_MNIST)
#                                    into tensor/target/gpu-check-data/ when present: carry it too
#                                    for the epoch run (both together exceed a 64 MiB carry limit)
#   scripts/gpu-check.sh             on the GPU machine, from a copy of the working tree with
#                                    tensor/target/gpu-check/ carried: needs only java 17+ and the
#                                    NVIDIA driver (CUDA 13; cuBLAS is used when the machine has
#                                    libcublas.so.13, else Ember's GEMM kernel)
#   scripts/gpu-check.sh --emulate   anywhere with g++, after --prepare: the same table for an
#                                    emulated device (tensor/src/test/resources/cuda-host: the
#                                    kernel sources compiled as host C++ behind a fake
#                                    libcuda.so.1), as CudaEmulationTest runs it
set -euo pipefail
cd "$(dirname "$0")/.."
out=tensor/target/gpu-check

if [[ "${1:-}" == "--prepare" ]]; then
  mvn -o -q -B -pl autograd -am test-compile -Dspotless.check.skip=true
  mvn -o -q -B -pl tensor dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile=target/gpu-check.classpath
  rm -rf "$out" && mkdir -p "$out/lib" "$out/native"
  cp -r tensor/target/classes "$out/classes"
  cp -r tensor/target/test-classes "$out/test-classes"
  # autograd's device suites (its only other dependency, slf4j-api, is on tensor's class path)
  cp -r autograd/target/classes "$out/autograd-classes"
  cp -r autograd/target/test-classes "$out/autograd-test-classes"
  data="${EMBER_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"
  if ls "$data"/train-images-idx3-ubyte* >/dev/null 2>&1; then
    rm -rf tensor/target/gpu-check-data && mkdir -p tensor/target/gpu-check-data/fashion-mnist
    cp "$data"/*-ubyte* tensor/target/gpu-check-data/fashion-mnist/
    echo "Fashion-MNIST for the epoch run: tensor/target/gpu-check-data" \
      "($(du -sh tensor/target/gpu-check-data | cut -f1))"
  fi
  redist=""
  IFS=: read -r -a jars < tensor/target/gpu-check.classpath || true  # no final newline
  for j in "${jars[@]}"; do
    case "$j" in
      *cuda-redist*) redist="$j" ;;  # 380 MB: only its CUDA runtime is needed, below
      *byte-buddy*|*assertj*) ;;     # test libraries the GPU check does not use (10 MB)
      *) cp "$j" "$out/lib/" ;;
    esac
  done
  # The CUDA JNI glue needs the CUDA 13 runtime, libcudart.so.13 (0.7 MB), which a GPU machine
  # without a CUDA toolkit lacks: taken from cuda-redist (the version the bindings are built for).
  if [[ -n "$redist" ]]; then
    unzip -q -j -o "$redist" 'org/bytedeco/cuda/linux-x86_64/libcudart.so.13' -d "$out/native"
  fi
  echo "prepared $out ($(du -sh "$out" | cut -f1)); carry it to the GPU machine:"
  du -sh "$out"/* | sed 's/^/  /'
  exit 0
fi

if [[ ! -d "$out/test-classes" || ! -d "$out/lib" ]]; then
  echo "gpu-check: $out is missing; run scripts/gpu-check.sh --prepare on a build machine and" \
    "carry tensor/target/gpu-check" >&2
  exit 2
fi
fake=()
if [[ "${1:-}" == "--emulate" ]]; then
  k=tensor/src/main/java/org/emberdl/tensor/cuda
  h=tensor/src/test/resources/cuda-host
  mkdir -p "$out/emulated"
  g++ -std=c++17 -O1 -shared -fPIC -ffp-contract=off -pthread -Wl,-soname,libcuda.so.1 \
    -I "$k" -I "$h" -o "$out/emulated/libcuda.so.1" "$h/fake_driver.cpp" \
    -x c++ -include "$h/cuda_host_emu.h" "$k"/*.cu -ldl
  fake=("-Dember.cuda.fakeDriver=$PWD/$out/emulated/libcuda.so.1")
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
  --format=csv,noheader | sed 's/^/nvidia-smi: /' || true
export LD_LIBRARY_PATH="$PWD/$out/native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
data=()
if [[ -d tensor/target/gpu-check-data/fashion-mnist ]]; then
  data=("-Dember.fashionMnist.dir=$PWD/tensor/target/gpu-check-data/fashion-mnist")
fi
# the JVM options of the build's test runs (the parent pom's ember.jvm.opens): Arrow needs java.nio
exec java -Dember.cuda.required=true "${fake[@]}" "${data[@]}" --add-modules=jdk.incubator.vector \
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
  -cp "$out/test-classes:$out/classes:$out/autograd-test-classes:$out/autograd-classes:$out/lib/*" \
  org.emberdl.tensor.cuda.GpuCheck
