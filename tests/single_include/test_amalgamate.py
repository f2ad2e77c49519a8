"""tools/amalgamate.py's rules on small include trees made here (ctest single_include_rules).

Each header is inlined once, so a header first reached inside a preprocessor conditional may be
included again only where that conditional is still open: runtime/ops/registry.hpp includes the
operator headers only where the registry is compiled, and they include each other. Reached again
outside it, inlining it once would change what compiles with the macro undefined: refused.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile

AMALGAMATE = pathlib.Path(__file__).resolve().parents[2] / "tools" / "amalgamate.py"


def run(headers: dict[str, str]) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        for name, text in headers.items():
            path = root / "include" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        out = root / "single.hpp"
        proc = subprocess.run([sys.executable, str(AMALGAMATE), "--root", str(root), "--output", str(out)],
                              capture_output=True, text=True, check=False)
        return proc.returncode, out.read_text(encoding="utf-8") if out.is_file() else "", proc.stderr


def check(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def main() -> int:
    # Nested inside one conditional: a.hpp (under #ifndef) includes b.hpp, which includes c.hpp
    # again after a.hpp already did. Inlined once each, inside the conditional.
    code, text, err = run({
        "qnn/qnn.hpp": '#pragma once\n#include "qnn/top.hpp"\n',
        "qnn/top.hpp": '#pragma once\n#ifndef LEAN\n#include "qnn/a.hpp"\n#endif\nint top;\n',
        "qnn/a.hpp": '#pragma once\n#include "qnn/c.hpp"\n#include "qnn/b.hpp"\nint a;\n',
        "qnn/b.hpp": '#pragma once\n#include "qnn/c.hpp"\nint b;\n',
        "qnn/c.hpp": '#pragma once\nint c;\n',
    })
    check(code == 0, f"a header included again inside the conditional it was first inlined in is accepted ({err.strip()})")
    check(text.count("int c;") == 1, "... and inlined once")
    lines = text.splitlines()
    check(lines.index("#ifndef LEAN") < lines.index("int c;") < lines.index("#endif"), "... inside the conditional")

    # The same header reached again after the conditional closed: refused, naming both places.
    code, text, err = run({
        "qnn/qnn.hpp": '#pragma once\n#include "qnn/top.hpp"\n#include "qnn/d.hpp"\n',
        "qnn/top.hpp": '#pragma once\n#ifndef LEAN\n#include "qnn/a.hpp"\n#endif\n',
        "qnn/a.hpp": '#pragma once\n#include "qnn/c.hpp"\n',
        "qnn/c.hpp": '#pragma once\nint c;\n',
        "qnn/d.hpp": '#pragma once\n#include "qnn/c.hpp"\n',
    })
    check(code != 0, "a header included again outside its first conditional is refused")
    check("qnn/c.hpp is included at qnn/d.hpp:2" in err and "qnn/top.hpp" in err, f"... naming where ({err.strip()})")

    # A second, sibling conditional is not the first one: refused too.
    code, _, err = run({
        "qnn/qnn.hpp": '#pragma once\n#ifdef X\n#include "qnn/c.hpp"\n#endif\n#ifdef Y\n#include "qnn/c.hpp"\n#endif\n',
        "qnn/c.hpp": '#pragma once\nint c;\n',
    })
    check(code != 0, "a header included again under a different conditional is refused")

    # The #else branch of the first conditional is not inside its #if branch: refused.
    code, _, err = run({
        "qnn/qnn.hpp": '#pragma once\n#ifdef X\n#include "qnn/c.hpp"\n#else\n#include "qnn/c.hpp"\n#endif\n',
        "qnn/c.hpp": '#pragma once\nint c;\n',
    })
    check(code != 0, "a header included again in the #else branch of its first conditional is refused")

    # Included unconditionally first, then again inside a conditional: nothing to refuse.
    code, text, err = run({
        "qnn/qnn.hpp": '#pragma once\n#include "qnn/c.hpp"\n#ifdef X\n#include "qnn/c.hpp"\n#endif\n',
        "qnn/c.hpp": '#pragma once\nint c;\n',
    })
    check(code == 0 and text.count("int c;") == 1, f"a header inlined unconditionally first may be included anywhere ({err.strip()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
