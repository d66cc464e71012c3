#!/usr/bin/env bash
# Installs what Ember's jobs and tests need on a fresh Debian machine (idempotent).
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
# gcc builds the stand-in libcuda.so.1 that lets NVRTC compile the CUDA kernels without a driver;
# g++ the emulated CUDA device of the tests.
command -v g++ >/dev/null || need+=(g++)
# The Fashion-MNIST IDX files, in /usr/share/datasets/fashion-mnist/ (used by training jobs).
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
