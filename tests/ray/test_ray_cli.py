"""`ppio batch prompts.jsonl -o out --engine ray --sandbox`, the README's command, in a subprocess; and
`import ppio_txt2img` never imports Ray.

The command joins the session's cluster through `RAY_ADDRESS`, as it would on a node of a Ray job (Ray
sets that variable), rather than starting a second local cluster (about 17 CPU-s): `ray.init` starts a
local cluster in the `cluster` fixture, and which keywords the CLI gives it on either path is
`init_options`, tested below."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ray

from ppio_txt2img.batch.ray._driver import init_options

PROMPTS = [
    {"prompt": "a red fox in snow"},
    {"prompt": "a lighthouse at dusk", "image_num": 2},
    {"prompt": "a tiny robot", "width": 512, "height": 512},
]


def test_the_readme_command_runs_a_batch_on_a_ray_cluster(cluster: None, tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    command = [sys.executable, "-m", "ppio_txt2img", "batch", "prompts.jsonl", "-o", "out", "--engine", "ray"]
    done = subprocess.run(
        [*command, "--sandbox", "--sandbox-speed", "20", "--json"],
        cwd=tmp_path,
        env={**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address},
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


def test_init_options_join_a_named_or_environment_cluster_and_size_a_local_one() -> None:
    assert init_options("10.0.0.5:6379", {}, 8, 2) == {}
    assert init_options(None, {"RAY_ADDRESS": "10.0.0.5:6379"}, 8, 2) == {}
    assert init_options(None, {}, 2, 1) == {"num_cpus": 2}
    assert init_options(None, {}, 2, 6) == {"num_cpus": 6}  # a CPU for each worker actor
    assert init_options(None, {"RAY_ADDRESS": ""}, None, 1) == {"num_cpus": 1}
