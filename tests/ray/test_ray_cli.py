"""`ppio batch prompts.jsonl -o out --engine ray --sandbox`, the README's command, in a subprocess that
starts its own local Ray cluster; and `import ppio_txt2img` never imports Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROMPTS = [
    {"prompt": "a red fox in snow"},
    {"prompt": "a lighthouse at dusk", "image_num": 2},
    {"prompt": "a tiny robot", "width": 512, "height": 512},
]


def test_the_readme_command_runs_a_batch_on_a_local_ray_cluster(tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    command = [sys.executable, "-m", "ppio_txt2img", "batch", "prompts.jsonl", "-o", "out", "--engine", "ray"]
    done = subprocess.run(
        [*command, "--sandbox", "--sandbox-speed", "20", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert (summary["event"], summary["done"], summary["exit_code"]) == ("summary", 3, 0)
    out = tmp_path / "out"
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [(e["line"], e["status"], len(e["images"])) for e in entries] == [
        (1, "done", 1),
        (2, "done", 2),
        (3, "done", 1),
    ]
    assert all((out / image).stat().st_size > 0 for e in entries for image in e["images"])
    assert "a lighthouse at dusk" in (out / "index.html").read_text()


def test_importing_the_sdk_never_imports_ray() -> None:
    code = (
        "import sys, ppio_txt2img, ppio_txt2img.batch, ppio_txt2img.cli; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
