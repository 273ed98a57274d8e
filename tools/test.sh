#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#  1. preset "ci": gcc, -Werror, release; unit + torture + CLI + install tests, benchmark smoke run.
#  2. preset "fuzz": clang, -Werror, ASan+UBSan; the same unit and torture tests under the sanitizers,
#     and each libFuzzer target for SIPVOICE_FUZZ_SECONDS (default 30) seconds.
# Ends with ctest's summary line of the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
jobs=$(nproc)

echo "== build: ci (gcc, -Werror)"
cmake --preset ci
cmake --build --preset ci -j "$jobs"
echo "== test: ci"
ctest --preset ci -j "$jobs"

echo "== build: fuzz (clang, -Werror, ASan+UBSan, libFuzzer)"
cmake --preset fuzz ${SIPVOICE_FUZZ_SECONDS:+-DSIPVOICE_FUZZ_SECONDS=$SIPVOICE_FUZZ_SECONDS}
cmake --build --preset fuzz -j "$jobs"
echo "== test: fuzz (unit and torture under sanitizers, then the fuzz targets)"
ctest --preset fuzz -j "$jobs"
