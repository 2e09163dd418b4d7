#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job.
# Until the plan's stages exist, the main job is the LSTM demo on the built-in synthetic series.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build/apps/lstm_demo "$@"
