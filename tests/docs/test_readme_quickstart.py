"""The README's quickstart, as a new user runs it: each snippet saved to a file of its own and run with
Python, with only the environment the README names (`PPIO_API_KEY`, and `PPIO_BASE_URL` pointing at the
sandbox on loopback). Both must run as they are, the async one included (no top-level `await`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ppio_txt2img.sandbox import Sandbox

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart_snippets() -> list[str]:
    """The quickstart's first two examples: the sync client's, then the async client's."""
    section = README.read_text(encoding="utf-8").split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    snippets = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    assert "ppio.Client()" in snippets[0], "the sync example first"
    assert "ppio.AsyncClient()" in snippets[1], "then the async one"
    return snippets


@pytest.mark.parametrize("which", [0, 1], ids=["sync", "async"])
def test_a_quickstart_snippet_runs_as_a_file(which: int, tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart_snippets()[which], encoding="utf-8")
    with Sandbox(speed=20, queue_delay=0.05, seed=3).serve() as url:
        env = {**os.environ, "PPIO_API_KEY": "any-key", "PPIO_BASE_URL": url}
        run = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
    assert run.returncode == 0, run.stderr
    saved = sorted((tmp_path / "out").iterdir())
    assert saved, run.stdout
    for path in saved:
        assert path.stat().st_size > 0
        assert path.name in run.stdout  # what the snippet printed is where the image went
    if which == 1:  # on_progress printed each status it saw, ending with success
        assert "TASK_STATUS_SUCCEED 100" in run.stdout, run.stdout


def batch_snippets() -> list[str]:
    """The two examples of the README's "From Python" batches: `run_batch_sync`, then `Batch`."""
    section = README.read_text(encoding="utf-8").split("From Python (results come out as lines finish):", 1)[
        1
    ]
    snippets = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    assert "run_batch_sync(" in snippets[0], "the sync example first"
    assert "Batch(" in snippets[1], "then the async one"
    return snippets


@pytest.mark.parametrize("which", [0, 1], ids=["run_batch_sync", "Batch"])
def test_a_batch_snippet_runs_as_a_file(which: int, tmp_path: Path) -> None:
    script = tmp_path / "batch.py"
    script.write_text(batch_snippets()[which], encoding="utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "a fox"}\n{"prompt": "a cat", "height": 768}\n')
    with Sandbox(speed=50, queue_delay=0.05, seed=4).serve() as url:
        env = {**os.environ, "PPIO_API_KEY": "any-key", "PPIO_BASE_URL": url}
        run = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "2 0 0 0"  # done, failed, unknown, exit code
    assert len(list((tmp_path / "out" / "images").iterdir())) == 2
