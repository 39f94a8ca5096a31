"""Render the fault matrix (`tests/faults/fault_cases.py`) as the README's table of faults.

    python scripts/fault_table.py            # rewrite the table in README.md
    python scripts/fault_table.py --check    # exit 1 when README.md's table is stale

The table sits between `<!-- fault-table:start -->` and `<!-- fault-table:end -->` in the README's
"Errors" section. Each row is one case of the matrix that `tests/faults/test_fault_matrix.py` runs, sync
and async: what the server does, what the SDK does about it, and the outcome the caller gets.
`tests/faults/test_fault_table.py` runs `--check`, so the table never says what the tests do not.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START = "<!-- fault-table:start -->"
END = "<!-- fault-table:end -->"


def load_cases() -> ModuleType:
    """The `tests.faults.fault_cases` module (it lives with the tests, beside the raw servers it
    configures), imported from the project's root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("tests.faults.fault_cases")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(cases: ModuleType) -> str:
    """The Markdown table: one row per case, in the matrix's order."""
    rows = ["| fault | what the SDK does | outcome |", "|---|---|---|"]
    for case in cases.CASES:
        rows.append(f"| {_cell(case.fault)} | {_cell(case.does)} | {_cell(cases.outcome_text(case))} |")
    return "\n".join(rows)


def with_table(text: str, table: str) -> str:
    """The README text with the table between the markers replaced."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {START} ... {END} markers")
    return text[: start + len(START)] + "\n" + table + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's table is stale")
    parser.add_argument("--readme", type=Path, default=README, help="the README to update (default: ours)")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    try:
        fresh = with_table(text, render(load_cases()))
    except ValueError as exc:
        print(f"fault_table: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if fresh != text:
            print(
                f"fault_table: the fault table in {args.readme.name} is stale; "
                "run: python scripts/fault_table.py",
                file=sys.stderr,
            )
            return 1
        print(f"fault_table: the fault table in {args.readme.name} is up to date.")
        return 0
    if fresh != text:
        args.readme.write_text(fresh, encoding="utf-8")
        print(f"fault_table: wrote the fault table into {args.readme.name}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
