#!/usr/bin/env bash
# The main job: install what is missing, build, and run sipvoice on a sample message.
# (Later milestones replace the sample parse with a real call to the agent.)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake --preset default
cmake --build --preset default
sample=tools/bench/corpus/invite_pbx.sip
echo "== sipvoice parse $sample"
./build/default/tools/sipvoice parse "$sample"
echo "== sipvoice parse --json tests/data/rfc4475/bext01.dat (a request a user agent answers 420)"
./build/default/tools/sipvoice parse --json tests/data/rfc4475/bext01.dat
