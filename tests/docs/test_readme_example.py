"""The README's sandbox example is real code: extract it and run its tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_sandbox_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The sandbox: test your app offline", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's sandbox section has no python example"
    return match.group(1)


def test_the_readme_sandbox_example_runs() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(readme_sandbox_example(), str(README), "exec"), namespace)  # noqa: S102 - our own README
    tests = [fn for name, fn in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()
