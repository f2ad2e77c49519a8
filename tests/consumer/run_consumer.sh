#!/usr/bin/env bash
# Installs a qnn build tree into a scratch prefix and uses it from outside, as a user would.
#
#   run_consumer.sh cmake     BUILD_DIR WORK_DIR CXX GENERATOR EXPECT_TOOL MODEL X Y
#       cmake --install, then configure, build and run tests/consumer with CMAKE_PREFIX_PATH set to
#       the prefix (find_package(qnn), qnn::qnn); EXPECT_TOOL=ON also requires bin/qnn and runs it.
#   run_consumer.sh xrt       BUILD_DIR WORK_DIR CXX GENERATOR
#       the same with find_package(qnn COMPONENTS xrt), linking qnn::xrt (run without a device)
#   run_consumer.sh pkgconfig BUILD_DIR WORK_DIR CXX
#       cmake --install, then compile pkgconfig_main.cpp with `pkg-config --cflags --libs qnn` alone
#       and check the version it prints against `pkg-config --modversion qnn`
#
# Exit 77 (ctest: skipped) when pkg-config is not installed. The prefix is rebuilt from scratch on
# every run, so a file the install rules forget cannot be found left over from an earlier run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode="$1" build="$2" work="$3" cxx="$4"
prefix="$work/prefix"

if [ "$mode" = pkgconfig ] && ! command -v pkg-config >/dev/null; then
  echo "pkg-config not found: install pkg-config (scripts/deps.sh does)"
  exit 77
fi

rm -rf "$prefix"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; exit 1; }
pcfile="$(find "$prefix" -name qnn.pc -path '*/pkgconfig/*' | head -n 1)"
config="$(find "$prefix" -name qnnConfig.cmake -path '*/cmake/qnn/*' | head -n 1)"
for f in "$prefix/include/qnn/qnn.hpp" "$config" "$pcfile"; do
  [ -n "$f" ] && [ -f "$f" ] || { echo "not installed: ${f:-qnnConfig.cmake or qnn.pc}"; exit 1; }
done

case "$mode" in
  cmake | xrt)
    generator="$5"
    xrt=OFF
    [ "$mode" = xrt ] && xrt=ON
    rm -rf "$work/build"
    cmake -S "$here" -B "$work/build" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
          -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCONSUMER_XRT=$xrt
    if [ "$mode" = xrt ]; then
      cmake --build "$work/build" --target consumer_xrt
      exec "$work/build/consumer_xrt"
    fi
    cmake --build "$work/build" --target consumer
    expect_tool="$6" model="$7" x="$8" y="$9"
    if [ "$expect_tool" = ON ]; then
      [ -x "$prefix/bin/qnn" ] || { echo "the qnn tool was built but not installed to bin/"; exit 1; }
      "$prefix/bin/qnn" inspect "$model" >"$work/inspect.txt"
      grep -q "^output  output  float32" "$work/inspect.txt" || { cat "$work/inspect.txt"; exit 1; }
      echo "installed bin/qnn inspects the model"
    fi
    exec "$work/build/consumer" "$model" "$x" "$y"
    ;;
  pkgconfig)
    export PKG_CONFIG_PATH="$(dirname "$pcfile")"
    # shellcheck disable=SC2046  # the flags are meant to split into words
    "$cxx" $(pkg-config --cflags qnn) "$here/pkgconfig_main.cpp" -o "$work/pkgconfig_main" $(pkg-config --libs qnn)
    got="$("$work/pkgconfig_main")"
    want="$(pkg-config --modversion qnn)"
    echo "pkg-config: $(pkg-config --cflags --libs qnn); QNN_VERSION_STRING $got, .pc version $want"
    [ "$got" = "$want" ] || { echo "the header's version differs from the .pc's"; exit 1; }
    ;;
  *)
    echo "unknown mode '$mode'"
    exit 2
    ;;
esac
