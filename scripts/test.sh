#!/usr/bin/env bash
# The README's test command: installs what the suite needs, builds everything with -Werror, runs
# every test. Safe to run again; rebuilds incrementally in build/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
qnn_apt "${QNN_BUILD_PACKAGES[@]}" "${QNN_PYTHON_PACKAGES[@]}"
qnn_venv

build="$QNN_ROOT/build"
cmake -S "$QNN_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQNN_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
