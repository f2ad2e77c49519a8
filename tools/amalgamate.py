#!/usr/bin/env python3
"""Writes the single-header build of qnn: single_include/qnn/qnn.hpp.

    python3 tools/amalgamate.py                      regenerate single_include/qnn/qnn.hpp
    python3 tools/amalgamate.py --output FILE         write elsewhere
    python3 tools/amalgamate.py --output FILE --check COMMITTED
                                                        write FILE, then fail (exit 1, with a diff)
                                                        if it differs from COMMITTED

Starting from include/qnn/qnn.hpp, every `#include "qnn/..."` line is replaced by that header's
text the first time it is met and dropped afterwards (every qnn header is `#pragma once`, or an
`-inl` header included from one place only). `#pragma once` lines of inlined headers are removed;
the output has one at its top. Every other include (<...> and "hwy/...") is kept as written, so
Highway and the standard library remain ordinary dependencies.

The single header must offer everything the include tree does, except what needs a third-party SDK:
every header under include/qnn/ must be reached from qnn/qnn.hpp unless EXCLUDED names it (the XRT
backend, which needs XRT's headers and libraries). A header nobody included from qnn.hpp would
otherwise be silently missing from the single header; the script refuses such a tree. An include of
an EXCLUDED header (backends.hpp's, under #ifdef QNN_WITH_XRT) is kept as written, not inlined.

A header first inlined inside a preprocessor conditional and included again outside that
conditional cannot be inlined only once without changing what compiles; the script refuses such a
tree. Included again inside the same conditional (an operator header that registry.hpp includes only
when it compiles the registry, including another), it is simply skipped.

The output depends only on the headers' contents (no dates, commits or absolute paths), so CI can
regenerate it and compare it with the committed file (tests/CMakeLists.txt: single_include_fresh).
"""

from __future__ import annotations

import argparse
import difflib
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENTRY = "qnn/qnn.hpp"
COMMAND = "python3 tools/amalgamate.py"

# Headers deliberately left out of qnn.hpp and so of the single header: the XRT backend includes
# <xrt/...> and must be linked with libxrt_coreutil (CMake target qnn::xrt).
EXCLUDED = re.compile(r"^qnn/backends/npu/xrt[a-z_]*\.hpp$")

INCLUDE_QNN = re.compile(r'^\s*#\s*include\s*"(qnn/[^"]+)"')
PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\b")
COND_OPEN = re.compile(r"^\s*#\s*(if|ifdef|ifndef)\b")
COND_CLOSE = re.compile(r"^\s*#\s*endif\b")
COND_ELSE = re.compile(r"^\s*#\s*(else|elif|elifdef|elifndef)\b")  # another branch: another block


class Amalgamator:
    def __init__(self, include_dir: pathlib.Path):
        self.include_dir = include_dir
        self.done: set[str] = set()
        # header first inlined under #if -> (the conditional blocks open there, where)
        self.conditional: dict[str, tuple[frozenset[int], str]] = {}
        self.blocks = 0  # conditional blocks seen so far; each gets its own number
        self.out: list[str] = []

    def read(self, name: str) -> list[str]:
        path = self.include_dir / name
        if not path.is_file():
            raise SystemExit(f"amalgamate.py: {name} is included but {path} does not exist")
        return path.read_text(encoding="utf-8").splitlines()

    def inline(self, name: str, open_blocks: tuple[int, ...], stack: list[str]) -> None:
        self.done.add(name)
        if open_blocks:
            self.conditional[name] = (frozenset(open_blocks), " <- ".join(reversed(stack)))
        self.out.append(f"// ---- begin {name} " + "-" * max(0, 88 - len(name)))
        local: list[int] = []
        for lineno, line in enumerate(self.read(name), 1):
            if PRAGMA_ONCE.match(line):
                continue
            if COND_OPEN.match(line):
                self.blocks += 1
                local.append(self.blocks)
            elif COND_CLOSE.match(line):
                local.pop()
            elif COND_ELSE.match(line):
                self.blocks += 1
                local[-1] = self.blocks
            m = INCLUDE_QNN.match(line)
            if m and EXCLUDED.match(m.group(1)):
                self.out.append(line)  # an SDK-backed header stays an include (under its #ifdef)
                continue
            if m:
                inc = m.group(1)
                where = f"{name}:{lineno}"
                if inc in self.conditional and not self.conditional[inc][0] <= set(open_blocks + tuple(local)):
                    raise SystemExit(
                        f"amalgamate.py: {inc} is included at {where}, but was first inlined inside "
                        f"a preprocessor conditional ({self.conditional[inc][1]}); move that include "
                        "out of the conditional or include it unconditionally first")
                if inc in self.done:
                    continue
                if inc in stack:
                    raise SystemExit(f"amalgamate.py: include cycle: {' -> '.join(stack + [inc])}")
                self.inline(inc, open_blocks + tuple(local), stack + [inc])
                continue
            self.out.append(line)
        self.out.append(f"// ---- end {name} " + "-" * max(0, 90 - len(name)))


def uncovered(include_dir: pathlib.Path, inlined: set[str]) -> list[str]:
    headers = (p.relative_to(include_dir).as_posix() for p in (include_dir / "qnn").rglob("*.hpp"))
    return sorted(h for h in headers if h not in inlined and not EXCLUDED.match(h))


def amalgamate(root: pathlib.Path) -> str:
    a = Amalgamator(root / "include")
    a.inline(ENTRY, (), [ENTRY])
    missing = uncovered(root / "include", a.done)
    if missing:
        raise SystemExit(f"amalgamate.py: not reachable from include/{ENTRY}, so missing from the single "
                         f"header: {', '.join(missing)}; include them from include/{ENTRY} (or, for a "
                         "header that needs a third-party SDK, add it to EXCLUDED)")
    header = [
        "// qnn — single-header build. GENERATED FILE: do not edit.",
        f"// Regenerate from the repository root with: {COMMAND}",
        f"// It is include/{ENTRY} with every qnn header it reaches inlined once, in include order;",
        "// standard-library and Highway (hwy/...) includes are kept, so Highway stays a dependency.",
        "// CTest's single_include_fresh test fails when this file is out of date.",
        f"// Headers inlined: {len(a.done)}.",
        "#pragma once",
        "",
    ]
    body = a.out
    # Collapse runs of blank lines left where includes and pragmas were removed.
    text: list[str] = []
    for line in header + body:
        if line.strip() == "" and text and text[-1].strip() == "":
            continue
        text.append(line.rstrip())
    return "\n".join(text) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=pathlib.Path, default=ROOT, help="repository root (default: this script's)")
    ap.add_argument("--output", type=pathlib.Path, help="output file (default: ROOT/single_include/qnn/qnn.hpp)")
    ap.add_argument("--check", type=pathlib.Path, metavar="COMMITTED",
                    help="after writing, compare with this file and fail if they differ")
    args = ap.parse_args()
    root = args.root.resolve()
    output = args.output or root / "single_include" / "qnn" / "qnn.hpp"
    text = amalgamate(root)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    if args.check:
        committed = args.check.read_text(encoding="utf-8") if args.check.is_file() else ""
        if committed != text:
            diff = list(difflib.unified_diff(committed.splitlines(), text.splitlines(), str(args.check),
                                             str(output), lineterm="", n=1))
            print(f"{args.check} is out of date; regenerate it with: {COMMAND}", file=sys.stderr)
            print("\n".join(diff[:60]) + ("\n..." if len(diff) > 60 else ""), file=sys.stderr)
            return 1
        print(f"{args.check} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
