"""`ppio txt2img` in a real pseudo-terminal against the sandbox: the bar moves between polls.

Counts only, never durations: the sandbox counts the polls (`stats["task_result"]`), the terminal
output shows the redraws.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ppio_txt2img.sandbox import Sandbox
from tests.cli.cli_helpers import API_KEY, ppio_process, run_in_terminal, screen

pytestmark = pytest.mark.skipif(os.name == "nt", reason="pseudo-terminals are POSIX-only")

BAR = re.compile(r"\r\[[#-]{24}\]\s+(\d+)%")


def terminal_env() -> dict[str, str]:
    return {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "24"}


def test_the_bar_redraws_between_polls_reaches_100_and_leaves_nothing_behind(tmp_path: Path) -> None:
    # A task of a few seconds: the adaptive wait polls only a handful of times.
    sandbox = Sandbox(speed=1.0, queue_delay=0.2, seed=7)
    with sandbox.serve() as url:
        code, output = run_in_terminal(
            ppio_process(
                "txt2img", "a lighthouse at dusk", "--base-url", url, "--api-key", API_KEY,
                "--width", "512", "--height", "512", "--steps", "40", "-o", str(tmp_path),
            ),
            terminal_env(),
        )  # fmt: skip
    assert code == 0, output
    polls = sandbox.stats["task_result"].requests
    percents = [int(p) for p in BAR.findall(output)]
    redraws = output.count("\r[")
    assert polls >= 1
    assert redraws > 2 * polls  # the bar is redrawn between answers, not only when one arrives
    assert len(set(percents)) > polls  # ... and it moves: more distinct percents than answers
    assert percents[-1] == 100
    shown = [line for line in screen(output) if line.strip()]
    assert not any("[#" in line or "[-" in line for line in shown), shown  # the bar line was cleared
    assert shown[0].startswith("task ")
    assert "saved 1 image:" in shown[0]
    assert shown[1].endswith(" bytes")


def test_quiet_draws_no_bar_even_on_a_terminal(tmp_path: Path) -> None:
    with Sandbox(speed=50.0, queue_delay=0.05, seed=7).serve() as url:
        code, output = run_in_terminal(
            ppio_process(
                "txt2img", "a fox", "--base-url", url, "--api-key", API_KEY,
                "--width", "256", "--height", "256", "-q", "-o", str(tmp_path),
            ),
            terminal_env(),
        )  # fmt: skip
    assert code == 0, output
    assert "\r[" not in output.replace("\r\n", "\n")
