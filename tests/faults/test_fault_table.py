"""The README's table of faults is rendered from the fault matrix's own data and cannot drift from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.faults.fault_cases import CASES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "fault_table.py"


def fault_table(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_readme_table_is_up_to_date() -> None:
    done = fault_table("--check")
    assert done.returncode == 0, done.stderr


def test_the_table_has_one_row_per_case_in_the_errors_section() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    errors = text[text.index("## Errors") : text.index("\n## ", text.index("## Errors") + 1)]
    table = errors[errors.index("<!-- fault-table:start -->") : errors.index("<!-- fault-table:end -->")]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| fault |")]
    assert len(rows) == len(CASES)
    for row, case in zip(rows, CASES, strict=True):
        assert row.startswith(f"| {case.fault.replace('|', chr(92) + '|')} |")


def test_check_fails_on_a_stale_table_and_a_rewrite_fixes_it(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    text = readme.read_text(encoding="utf-8")
    readme.write_text(text.replace(f"| {CASES[0].fault} |", "| an edited row |", 1), encoding="utf-8")

    stale = fault_table("--check", "--readme", readme)
    assert stale.returncode == 1
    assert "stale" in stale.stderr

    assert fault_table("--readme", readme).returncode == 0
    assert readme.read_text(encoding="utf-8") == text
    assert fault_table("--check", "--readme", readme).returncode == 0
