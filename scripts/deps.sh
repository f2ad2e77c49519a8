# Sourced by the README's commands: installs what qnn needs on a fresh Debian 12 machine, and does
# nothing when it is already there (so every command can be run twice).
#   qnn_apt PKG...      install Debian packages that are missing
#   qnn_venv            create .venv (Debian's python3 with its site packages, so PyTorch from
#                       python3-torch is visible) and pip-install scripts/requirements.txt into it
set -euo pipefail

QNN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export QNN_ROOT

qnn_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "qnn: installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Packages to build and test the C++ library and tools.
QNN_BUILD_PACKAGES=(g++ clang cmake ninja-build pkg-config libhwy-dev libxsimd-dev doctest-dev libbenchmark-dev
                    libstb-dev dataset-fashion-mnist libonnx-testdata libclang-rt-14-dev libxrt-dev
                    clang-tidy cppcheck)
# Python side of the tests (ONNX Runtime oracle, onnx.checker) and of the example's comparisons.
QNN_PYTHON_PACKAGES=(python3 python3-venv python3-pip python3-numpy)

qnn_venv() {
  local venv="$QNN_ROOT/.venv"
  local stamp="$venv/.qnn-requirements"
  if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
  if ! cmp -s "$QNN_ROOT/scripts/requirements.txt" "$stamp"; then
    echo "qnn: installing Python packages into .venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$QNN_ROOT/scripts/requirements.txt"
    cp "$QNN_ROOT/scripts/requirements.txt" "$stamp"
  fi
  export QNN_PYTHON="$venv/bin/python"
}
