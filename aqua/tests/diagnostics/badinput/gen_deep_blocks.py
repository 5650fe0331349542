"""Writes deep_nested_blocks.aqua into the folder given as the only argument.

The case: 1,000 `if` blocks nested inside each other, each indented one space
deeper than its parent, with one undefined name in the innermost block. A
compiler must report that name without overflowing its stack. The file is
about half a megabyte, so it is generated when the tests run instead of being
committed.
"""

import pathlib
import sys

DEPTH = 1000


def main() -> None:
    out = pathlib.Path(sys.argv[1]) / "deep_nested_blocks.aqua"
    lines = [
        "-- case: 1,000 `if` blocks are nested inside each other and the innermost one uses an undefined name; the compiler must report it, not overflow its stack",
        None,  # the `-- at:` line, known once the body is laid out
        "-- note: no fix line, because the reference overflows its stack on the fixed program",
        "aqua DeepBlocks",
        "",
        "export deep",
        "",
        'service Log("log"):',
        "    write(s: string)",
        "",
        "func deep(flag: bool, message: string):",
    ]
    for level in range(1, DEPTH + 1):
        lines.append(" " * level + "if flag:")
    indent = " " * (DEPTH + 1)
    lines.append(indent + "Log.write(mesage)")
    column = len(indent) + len("Log.write(") + 1
    lines[1] = f"-- at: {len(lines)}:{column} `mesage`"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
