"""The Makefile's guarantees about generated code, checked on a throw-away copy of the project.

`make check-generated` fails when generated/, the facade's generated `_options.py` or the README's
option table is stale (or generated/ holds files git does not track), `make generate` fixes it, and a
generation that changes nothing rewrites no file. The copy is a fresh git repository
(check-generated asks git for untracked files); make runs with the current venv, and `INSTALLED=` (empty)
so that no stamp file and no pip install are needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The venv running these tests (…/.venv/bin/python → …/.venv); not resolved, a venv's python is a symlink.
VENV = Path(sys.executable).parent.parent
SPEC_EDIT = ("description: Denoising iterations.", "description: Denoising iterations (edited).")

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git"
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A parent make (e.g. `make pytest`) must not leak its flags or jobserver into this one.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120)


def make(target: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("make", f"VENV={VENV}", "INSTALLED=", target, cwd=cwd)


def git(*args: str, cwd: Path) -> None:
    done = run("git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml", ".gitignore", "README.md"):
        shutil.copy2(ROOT / name, tmp_path / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "sandbox")
    for name in ("openapi", "scripts", "generated", "facade"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=ignore)
    git("init", "--quiet", cwd=tmp_path)
    git("add", "--all", cwd=tmp_path)
    git("-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m", "copy", cwd=tmp_path)
    return tmp_path


OPTIONS = Path("facade/ppio_txt2img/_options.py")
STAMP = Path("build/.generated.stamp")  # what `make generate` touches when it is done


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every generated file under `root`: its mtime in ns and its bytes."""
    paths = [*sorted((root / "generated").rglob("*")), root / OPTIONS, root / "README.md"]
    return {
        path.relative_to(root).as_posix(): (path.stat().st_mtime_ns, path.read_bytes())
        for path in paths
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_check_generated_fails_on_a_stale_copy_and_make_generate_fixes_it_without_rewrites(
    project: Path,
) -> None:
    # The copy is up to date (`make test` checks the tree it is copied from); it passes again below.
    spec = project / "openapi" / "ppio.yaml"
    text = spec.read_text(encoding="utf-8")
    assert text.count(SPEC_EDIT[0]) == 1
    spec.write_text(text.replace(*SPEC_EDIT), encoding="utf-8")

    stale = make("check-generated", project)
    assert stale.returncode != 0
    assert "generated/ is stale" in stale.stdout
    assert "Denoising iterations (edited)." in stale.stdout  # the diff is shown

    generated = make("generate", project)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "txt2img_request.py" in generated.stdout
    assert "openapi.json" in generated.stdout
    assert f"{OPTIONS}: rewritten" in generated.stdout  # the option's docstring and --help
    assert "README.md: rewritten" in generated.stdout  # the README's table of options
    assert "Denoising iterations (edited)." in (project / OPTIONS).read_text(encoding="utf-8")
    fixed = make("check-generated", project)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr

    before = snapshot(project)
    again = make("generate", project)  # up to date: make does not even run the generator
    assert again.returncode == 0, again.stdout + again.stderr
    # Make the spec newer than the stamp: the generator runs, and must write nothing.
    stamp = (project / STAMP).stat().st_mtime_ns
    os.utime(spec, ns=(stamp + 2_000_000_000, stamp + 2_000_000_000))
    forced = make("generate", project)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "0 file(s) changed" in forced.stdout
    assert snapshot(project) == before


def test_check_generated_fails_on_a_generated_file_git_does_not_track(project: Path) -> None:
    git("rm", "--cached", "--quiet", "generated/ppio_api/py.typed", cwd=project)

    untracked = make("check-generated", project)

    assert untracked.returncode != 0
    assert "untracked files under generated/:" in untracked.stdout
    assert "generated/ppio_api/py.typed" in untracked.stdout


def test_check_generated_fails_on_hand_edited_generated_facade_files_and_generate_restores_them(
    project: Path,
) -> None:
    # The stamp a last `make generate` leaves (test above), newer than every input: from now on make
    # regenerates only what is newer. Written here rather than by a generator run (2 CPU-s).
    stamp = project / STAMP
    stamp.parent.mkdir()
    stamp.touch()
    earlier = time.time_ns() - 2_000_000_000
    os.utime(stamp, ns=(earlier, earlier))
    inputs = [p for d in ("openapi", "scripts", "facade") for p in (project / d).rglob("*") if p.is_file()]
    assert all(path.stat().st_mtime_ns < earlier for path in inputs)
    edits = {
        OPTIONS: ("    steps: int\n", "    steps: float\n"),
        Path("README.md"): ("| Denoising iterations. |", "| Denoising steps. |"),
    }
    originals = {}
    for path, (old, new) in edits.items():
        originals[path] = (project / path).read_text(encoding="utf-8")
        assert originals[path].count(old) == 1
        (project / path).write_text(originals[path].replace(old, new), encoding="utf-8")

    stale = make("check-generated", project)

    assert stale.returncode != 0
    assert "is stale" in stale.stdout
    for _, new in edits.values():
        assert new.strip() in stale.stdout  # each diff is shown
    restored = make("generate", project)  # the edited outputs are newer than the stamp: regenerated
    assert restored.returncode == 0, restored.stdout + restored.stderr
    for path, original in originals.items():
        assert (project / path).read_text(encoding="utf-8") == original
