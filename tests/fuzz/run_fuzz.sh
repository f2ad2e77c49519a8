#!/usr/bin/env bash
# Builds a libFuzzer target from tests/fuzz/ with clang++ and runs it for a while.
#
#   tests/fuzz/run_fuzz.sh TARGET SECONDS      e.g. tests/fuzz/run_fuzz.sh fuzz_onnx_proto 300
#   tests/fuzz/run_fuzz.sh --build TARGET OUTPUT [DEPFILE]
#                                              only compile TARGET to OUTPUT (and write a make-style
#                                              dependency file); CMake builds the CTest fuzz runs'
#                                              binaries this way (tests/CMakeLists.txt)
#   tests/fuzz/run_fuzz.sh --replay TARGET     run every file of tests/fuzz/regressions/TARGET/
#                                              through TARGET once (CTest's fuzz_*_regressions);
#                                              exit 77 (skipped) when there is none
#
# Regressions: an input that once crashed a target is kept in tests/fuzz/regressions/TARGET/ and
# replayed by every CTest run, so the bug cannot come back unnoticed. When a fuzz run fails, this
# script copies the input that failed (libFuzzer's crash-*, leak-*, timeout-*, oom-* artifacts)
# into that directory; fix the bug, then commit the file with the fix (docs/reliability.md).
#
# The binary, the corpus and any crash artifacts live in a temporary work directory (printed at the
# start; kept afterwards so a crash can be replayed with `$WORK/TARGET $WORK/crash-...`); of these
# only a failing input is copied into the repository. The seed corpus depends on the target:
#   fuzz_onnx_proto  the ~100 smallest ONNX conformance models (/usr/share/libonnx-testdata, if
#                    installed), a few conformance .pb tensors and tests/data/onnx/*.onnx
#   fuzz_npy         tests/data/io/*.npy, and .npy/IDX variants written by python3 (and NumPy if
#                    python3 has it)
#   fuzz_gunzip      tests/data/io/*.{gz,zz,deflate}, and gzip/zlib/raw streams written by python3's
#                    zlib at several levels and strategies. Built with -DQNN_FUZZ_ZLIB -lz when
#                    zlib.h is installed, so that the target also cross-checks against zlib.
#   fuzz_idx         IDX files of every element type written by python3 (images, labels, empty
#                    and 0-dimensional ones), plain and gzipped
#   fuzz_xrt_manifest tests/fuzz/seeds/fuzz_xrt_manifest/*.json; tests/fuzz/fuzz_xrt_manifest.dict
#                    gives libFuzzer the manifest's keys and JSON tokens
# Every target also starts from its regression inputs. A target with tests/fuzz/TARGET.dict is run
# with that dictionary.
# Environment: CXX (default clang++-14, else clang++), WORK (work directory), BINARY (a binary built
# with --build: run it instead of compiling again).
set -eu

usage() {
  echo "usage: $0 TARGET SECONDS   (TARGET names tests/fuzz/TARGET.cpp)" >&2
  echo "       $0 --build TARGET OUTPUT [DEPFILE]" >&2
  echo "       $0 --replay TARGET" >&2
  exit 2
}
build_only=0
replay=0
if [[ $# -ge 1 && $1 == --replay ]]; then
  [[ $# -eq 2 ]] || usage
  replay=1
  target=$2
elif [[ $# -ge 1 && $1 == --build ]]; then
  [[ $# -eq 3 || $# -eq 4 ]] || usage
  build_only=1
  target=$2
  output=$3
  depfile=${4:-}
else
  [[ $# -eq 2 ]] || usage
  target=$1
  seconds=$2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
source="$root/tests/fuzz/$target.cpp"
[[ -f "$source" ]] || { echo "no such target: $source" >&2; exit 2; }
cxx=${CXX:-$(command -v clang++-14 || command -v clang++)}

# The one place the fuzzers' compile flags are written down.
build() {  # OUTPUT [DEPFILE]
  local extra_flags=()
  if [[ $target == fuzz_gunzip && -f /usr/include/zlib.h ]]; then
    extra_flags=(-DQNN_FUZZ_ZLIB -lz)
  fi
  if [[ -n ${2:-} ]]; then
    extra_flags+=(-MD -MF "$2" -MT "$1")
  fi
  "$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$root/include" "$source" -o "$1" \
    ${extra_flags[@]+"${extra_flags[@]}"}
}

if [[ $build_only == 1 ]]; then
  build "$output" "$depfile"
  exit 0
fi

regressions="$root/tests/fuzz/regressions/$target"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [[ $replay == 1 ]]; then
  if [[ -n ${BINARY:-} ]]; then
    binary=$BINARY
  else
    binary=$(mktemp "${TMPDIR:-/tmp}/qnn_${target}.XXXXXX")
    build "$binary"
  fi
  inputs=()
  if [[ -d "$regressions" ]]; then
    while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$regressions" -type f -print0 | sort -z)
  fi
  if [[ ${#inputs[@]} -eq 0 ]]; then
    echo "$target: no regression inputs in $regressions: nothing to replay"
    exit 77  # CTest reports this as skipped: nothing was checked
  fi
  echo "$target: replaying ${#inputs[@]} regression inputs from $regressions"
  # Given files rather than a directory, libFuzzer runs each once and fails on the first that
  # crashes, leaks, times out or trips a sanitizer. -error_exitcode=1: libFuzzer's default, 77, is
  # CTest's "skipped".
  exec "$binary" -error_exitcode=1 -timeout=10 -rss_limit_mb=2048 "${inputs[@]}"
fi

work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/qnn_fuzz_${target}.XXXXXX")}
mkdir -p "$work/corpus"
echo "work directory: $work"
if [[ -n ${BINARY:-} ]]; then
  cp "$BINARY" "$work/$target"
else
  build "$work/$target"
fi

seed_onnx_proto() {
  local testdata=/usr/share/libonnx-testdata/data/node
  if [[ -d "$testdata" ]]; then
    # The smallest models first: libFuzzer mutates small inputs faster.
    find "$testdata" -name model.onnx -printf '%s %p\n' | sort -n | head -n 100 |
      while read -r _ path; do
        cp "$path" "$work/corpus/$(basename "$(dirname "$path")").onnx"
      done
    find "$testdata" -name '*.pb' -size -4k -printf '%s %p\n' | sort -n | awk 'NR % 40 == 0' |
      while read -r _ path; do
        test_name=$(basename "$(dirname "$(dirname "$path")")")
        cp "$path" "$work/corpus/${test_name}_$(basename "$path")"
      done
  fi
  cp "$root"/tests/data/onnx/*.onnx "$work/corpus/" 2>/dev/null || true
}

seed_npy() {
  cp "$root"/tests/data/io/*.npy "$work/corpus/" 2>/dev/null || true
  python3 - "$work/corpus" <<'PY' || echo "warning: python3 seed generation failed" >&2
import os, struct, sys
out = sys.argv[1]

def npy(name, descr, shape, data, version=1, fortran=False):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)
    pre = 10 if version == 1 else 12
    h += " " * ((-(pre + len(h) + 1)) % 64) + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(h))
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]) + length + h.encode() + data)

def idx(name, code, dims, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data)

npy("seed_f4.npy", "<f4", (2, 3), struct.pack("<6f", *range(6)))
npy("seed_f8.npy", "<f8", (3,), struct.pack("<3d", 0.1, 1e300, -2.5))
npy("seed_b1.npy", "|b1", (4,), bytes([1, 0, 1, 1]))
npy("seed_i8.npy", "<i8", (), struct.pack("<q", -5))
npy("seed_u2_v2.npy", "<u2", (2, 1), struct.pack("<2H", 1, 65535), version=2)
npy("seed_i2_v3.npy", "<i2", (0, 4), b"", version=3)
npy("seed_u1_8d.npy", "|u1", (1, 1, 1, 1, 1, 1, 2, 1), bytes([3, 4]))
npy("seed_fortran.npy", "<f4", (1, 2), struct.pack("<2f", 1, 2), fortran=True)
idx("seed_u8.idx", 0x08, (2, 2, 2), bytes(range(8)))
idx("seed_i16.idx", 0x0B, (3,), struct.pack(">3h", -1, 0, 300))
idx("seed_f32.idx", 0x0D, (1, 2), struct.pack(">2f", 1.5, -2))
try:
    import numpy as np
    np.save(os.path.join(out, "np_i32.npy"), np.arange(12, dtype=np.int32).reshape(3, 4))
    np.save(os.path.join(out, "np_f4_scalar.npy"), np.float32(3.5))
except ImportError:
    pass
PY
}

seed_gunzip() {
  cp "$root"/tests/data/io/*.gz "$root"/tests/data/io/*.zz "$root"/tests/data/io/*.deflate \
    "$work/corpus/" 2>/dev/null || true
  python3 - "$work/corpus" <<'PY' || echo "warning: python3 seed generation failed" >&2
import gzip, os, random, sys, zlib
out = sys.argv[1]
rng = random.Random(1)
texts = [b"", b"a", b"abcabcabcabc", bytes(rng.randrange(256) for _ in range(300)),
         b" ".join(rng.choice([b"qnn", b"int8", b"scale", b"zero"]) for _ in range(400)),
         bytes(rng.choice(b"\x00\x00\x00\x01\xff") for _ in range(3000))]
for i, t in enumerate(texts):
    for level in (0, 1, 6, 9):
        with open(os.path.join(out, "seed_%d_%d.gz" % (i, level)), "wb") as f:
            f.write(gzip.compress(t, level, mtime=0))
    for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE,
                     zlib.Z_FIXED):
        co = zlib.compressobj(9, zlib.DEFLATED, -15, 8, strategy)
        with open(os.path.join(out, "seed_%d_s%d.deflate" % (i, strategy)), "wb") as f:
            f.write(co.compress(t) + co.flush())
    with open(os.path.join(out, "seed_%d.zz" % i), "wb") as f:
        f.write(zlib.compress(t, 9))
PY
}

seed_idx() {
  python3 - "$work/corpus" <<'PY' || echo "warning: python3 seed generation failed" >&2
import gzip, os, random, struct, sys
out = sys.argv[1]
rng = random.Random(7)

def idx(name, code, fmt, dims, values, gz=False):
    data = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    data += b"".join(struct.pack(">" + fmt, v) for v in values)
    if gz:
        data = gzip.compress(data, 6, mtime=0)
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

images = [rng.randrange(256) for _ in range(3 * 4 * 4)]
labels = [i % 10 for i in range(23)]
idx("images_u8.idx", 0x08, "B", (3, 4, 4), images)
idx("images_u8.idx.gz", 0x08, "B", (3, 4, 4), images, gz=True)
idx("labels_u8.idx", 0x08, "B", (23,), labels)
idx("labels_u8.idx.gz", 0x08, "B", (23,), labels, gz=True)
idx("labels_missing_class.idx", 0x08, "B", (5,), [0, 1, 2, 3, 3])
idx("i8.idx", 0x09, "b", (2, 3), [-128, -1, 0, 1, 2, 127])
idx("i16.idx", 0x0B, "h", (3,), [-32768, 0, 300])
idx("i32.idx", 0x0C, "i", (2, 1, 2), [-(2**31), 7, 65536, 2**31 - 1])
idx("f32.idx", 0x0D, "f", (1, 2), [1.5, -2.0])
idx("f64.idx", 0x0E, "d", (1,), [0.25])
idx("empty.idx", 0x08, "B", (0, 28, 28), [])
idx("scalar.idx", 0x0C, "i", (), [42])
idx("rank8.idx", 0x08, "B", (1, 1, 1, 1, 1, 1, 1, 2), [5, 6])
PY
}

seed_xrt_manifest() {
  cp "$root"/tests/fuzz/seeds/fuzz_xrt_manifest/*.json "$work/corpus/"
}

case $target in
  fuzz_onnx_proto) seed_onnx_proto ;;
  fuzz_npy) seed_npy ;;
  fuzz_gunzip) seed_gunzip ;;
  fuzz_idx) seed_idx ;;
  fuzz_xrt_manifest) seed_xrt_manifest ;;
  *) echo "no seed corpus for $target: starting from an empty corpus" ;;
esac
if [[ -d "$regressions" ]]; then
  find "$regressions" -type f -exec cp {} "$work/corpus/" \;
fi
echo "corpus: $(ls "$work/corpus" | wc -l) seed files"
dict=()
[[ -f "$root/tests/fuzz/$target.dict" ]] && dict=(-dict="$root/tests/fuzz/$target.dict")

cd "$work"
rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
rc=0
"./$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -error_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$work/" ${dict[@]+"${dict[@]}"} "$work/corpus" || rc=$?
if [[ $rc -ne 0 ]]; then
  for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [[ -f "$f" ]] || continue
    mkdir -p "$regressions"
    cp "$f" "$regressions/"
    echo "$target: the failing input is now $regressions/$(basename "$f"):" \
         "fix the bug, then commit it (every CTest run replays it)" >&2
  done
fi
exit $rc
