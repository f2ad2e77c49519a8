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

# The XRT NPU backend (docs/backends_xrt.md): a second build with QNN_WITH_XRT=ON that builds the
# XRT tests and the qnn tool (`qnn inspect --backend xrt`, ctest xrt_cli) and runs them against XRT's
# noop shim; tests that need a device report "Skipped".
xrt_build="$QNN_ROOT/build-xrt"
cmake -S "$QNN_ROOT" -B "$xrt_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQNN_WERROR=ON -DQNN_WITH_XRT=ON \
      -DQNN_BUILD_TOOLS=ON -DQNN_BUILD_EXAMPLES=OFF >/dev/null
# qnn_dispatch too: xrt_consumer_package installs this build tree, and the install includes it.
cmake --build "$xrt_build" -j "$(nproc)" --target qnn_xrt_tests qnn_dispatch qnn_cli
ctest --test-dir "$xrt_build" -L xrt --output-on-failure -j "$(nproc)"

# The whole doctest suite again under AddressSanitizer + UndefinedBehaviorSanitizer, every UBSan
# report fatal (docs/reliability.md). -O0 -g0: compiling the suite dominates this step, and -O0
# halves it. Only qnn_tests is built; it runs as two halves side by side (tests/CMakeLists.txt).
asan_build="$QNN_ROOT/build-asan"
cmake -S "$QNN_ROOT" -B "$asan_build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g0" \
      -DQNN_WERROR=ON -DQNN_SANITIZE=address,undefined -DQNN_FUZZ_SECONDS=0 \
      -DQNN_BUILD_TOOLS=OFF -DQNN_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$asan_build" -j "$(nproc)" --target qnn_tests
ctest --test-dir "$asan_build" -R '^qnn_tests_[12]$' --output-on-failure -j "$(nproc)"
