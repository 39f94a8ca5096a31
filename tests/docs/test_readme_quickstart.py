"""The README's Python examples as a new user runs them: each saved to a file of its own and run with
Python, with only the environment the README names (`PPIO_API_KEY`, and `PPIO_BASE_URL` pointing at the
sandbox on loopback). The quickstart's and the batches', the async ones included (no top-level
`await`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ppio_txt2img.sandbox import Sandbox

README = Path(__file__).resolve().parents[2] / "README.md"


def snippets(after: str, *marks: str) -> list[str]:
    """The python examples that follow `after` in the README, one for each of `marks`, in order, each
    checked to contain its mark (so that a reordered README fails here, not in the snippet)."""
    section = README.read_text(encoding="utf-8").split(after, 1)[1]
    found = re.findall(r"```python\n(.*?)```", section, re.S)[: len(marks)]
    for snippet, mark in zip(found, marks, strict=True):
        assert mark in snippet, f"expected {mark!r} in this README example:\n{snippet}"
    return found


def run_as_a_file(snippet: str, directory: Path, sandbox: Sandbox) -> subprocess.CompletedProcess[str]:
    """`python example.py` in `directory`, against `sandbox` on loopback."""
    script = directory / "example.py"
    script.write_text(snippet, encoding="utf-8")
    with sandbox.serve() as url:
        env = {**os.environ, "PPIO_API_KEY": "any-key", "PPIO_BASE_URL": url}
        return subprocess.run(
            [sys.executable, str(script)], cwd=directory, env=env, capture_output=True, text=True, timeout=120
        )


@pytest.mark.parametrize("which", [0, 1], ids=["sync", "async"])
def test_a_quickstart_snippet_runs_as_a_file(which: int, tmp_path: Path) -> None:
    snippet = snippets("## Quickstart", "ppio.Client()", "ppio.AsyncClient()")[which]
    run = run_as_a_file(snippet, tmp_path, Sandbox(speed=20, queue_delay=0.05, seed=3))
    assert run.returncode == 0, run.stderr
    saved = sorted((tmp_path / "out").iterdir())
    assert saved, run.stdout
    for path in saved:
        assert path.stat().st_size > 0
        assert path.name in run.stdout  # what the snippet printed is where the image went
    if which == 1:  # on_progress printed each status it saw, ending with success
        assert "TASK_STATUS_SUCCEED 100" in run.stdout, run.stdout


@pytest.mark.parametrize("which", [0, 1], ids=["run_batch_sync", "Batch"])
def test_a_batch_snippet_runs_as_a_file(which: int, tmp_path: Path) -> None:
    snippet = snippets("From Python (results come out as lines finish):", "run_batch_sync(", "Batch(")[which]
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "a fox"}\n{"prompt": "a cat", "height": 768}\n')
    run = run_as_a_file(snippet, tmp_path, Sandbox(speed=50, queue_delay=0.05, seed=4))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "2 0 0 0"  # done, failed, unknown, exit code
    assert len(list((tmp_path / "out" / "images").iterdir())) == 2
