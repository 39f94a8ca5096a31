"""Generate, from the OpenAPI spec, the low-level client `ppio_api` and the facade's option types.

First refuses a spec whose request schemas use a JSON-Schema keyword the facade's validator does not
implement (`_validation.IMPLEMENTED_KEYWORDS`): such a limit would silently not be enforced.

Then runs the pinned openapi-python-client into a scratch directory, marks the package internal in its
docstring, adds `py.typed` and a JSON copy of the spec (`openapi.json`, which the facade reads its limits
and enums from), and syncs the result into the output directory, writing only files whose bytes changed
and removing files the generator no longer makes. A run with nothing changed therefore touches no file.

With `--options`, also writes the facade's option module (`RequestOptions`, `ModelFilters`, the enum
`Literal`s, where each option goes in the body, the CLI's flag table; see `scripts/gen_options.py`); with
`--readme`, the README's table of options between its markers. Both only when their bytes change.

    python scripts/generate.py --out generated/ppio_api \
        --options facade/ppio_txt2img/_options.py --readme README.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from gen_options import load_facade, readme_with_options, render_options, request_keyword_problems

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "ppio.yaml"
CONFIG = ROOT / "openapi" / "generator.yaml"
TEMPLATES = ROOT / "openapi" / "templates"
PACKAGE = "ppio_api"
# Replaces the generator's one-line package docstring: `ppio_api` ships as a top-level package of the
# wheel, so an IDE offers it for auto-import; this is what its hover text and help() say.
INTERNAL_DOCSTRING = '''"""Internal to ppio-txt2img: the low-level client generated from openapi/ppio.yaml.

Not a public API and no stability promise: any release may change or remove it. Import `ppio_txt2img`
instead (`ppio_txt2img.Task`, not `ppio_api.models.Task`); only the SDK's adapter module uses this package.
"""'''


def load_spec(spec: Path) -> dict[str, Any]:
    """The spec as a dict, parsed once: with libyaml's parser where PyYAML has it (0.05 s instead of 0.5)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with spec.open(encoding="utf-8") as fh:
        document: dict[str, Any] = yaml.load(fh, Loader=loader)  # noqa: S506 (a safe loader)
    return document


def generate(document: dict[str, Any], config: Path, templates: Path, scratch: Path) -> Path:
    """Run the generator on `document` into `scratch`; return the package directory it made.

    The generator reads the JSON copy the package ships (`openapi.json`): the same document, which it
    parses in a fraction of the time its YAML parser takes."""
    out = scratch / PACKAGE
    spec_json = scratch / "openapi.json"
    spec_json.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    cmd = [
        str(Path(bin_dir) / "openapi-python-client"),
        "generate",
        "--path",
        str(spec_json),
        "--config",
        str(config),
        "--custom-template-path",
        str(templates),
        "--meta",
        "none",
        "--fail-on-warning",
        "--output-path",
        str(out),
    ]
    done = subprocess.run(cmd, env=env, cwd=scratch, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (out / "__init__.py").is_file():
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"openapi-python-client failed (exit {done.returncode})")
    mark_internal(out / "__init__.py")
    (out / "py.typed").write_text("")
    shutil.copy2(spec_json, out / "openapi.json")
    return out


def mark_internal(init: Path) -> None:
    """Swap the package docstring for `INTERNAL_DOCSTRING`; fail if the generator's is not one line."""
    text = init.read_text(encoding="utf-8")
    first, newline, rest = text.partition("\n")
    if not (first.startswith('"""') and first.endswith('"""') and len(first) > 6):
        raise SystemExit(f"{init}: expected a one-line docstring first, found {first!r}")
    init.write_text(INTERNAL_DOCSTRING + newline + rest, encoding="utf-8")


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def sync(src: Path, dest: Path) -> list[str]:
    """Make `dest` hold exactly the files of `src`; return the paths that changed."""
    new, old = files_under(src), files_under(dest) if dest.exists() else {}
    changed = []
    for rel, data in new.items():
        if old.get(rel) != data:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            changed.append(rel)
    for rel in sorted(set(old) - set(new)):
        (dest / rel).unlink()
        changed.append(rel)
    for d in sorted((p for p in dest.rglob("*") if p.is_dir() and p.name != "__pycache__"), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    return changed


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it already holds exactly that; return whether it wrote."""
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--templates", type=Path, default=TEMPLATES)
    parser.add_argument("--out", type=Path, required=True, help="the package directory to write")
    parser.add_argument("--options", type=Path, help="the facade's generated option module to write")
    parser.add_argument("--readme", type=Path, help="the README whose option table to rewrite")
    args = parser.parse_args()
    document = load_spec(args.spec)
    facade = load_facade()
    problems = request_keyword_problems(document, facade)
    if problems:
        raise SystemExit(
            f"{args.spec}: request schemas use JSON-Schema keywords the SDK's validator does not implement"
            " (a limit it would silently not enforce):\n"
            + "\n".join(f"  {where}: {keyword}" for where, keyword in problems)
            + "\nImplement them in facade/ppio_txt2img/_validation.py (and add them to IMPLEMENTED_KEYWORDS)"
            " or express the limit with the keywords it implements."
        )
    # Rendered before the slow generator runs, so a spec the option types cannot express fails fast.
    options_text = render_options(document, facade) if args.options else None
    readme_text = (
        readme_with_options(args.readme.read_text(encoding="utf-8"), document, facade)
        if args.readme
        else None
    )
    with tempfile.TemporaryDirectory() as scratch:
        made = generate(document, args.config.resolve(), args.templates.resolve(), Path(scratch))
        changed = sync(made, args.out)
    print(f"{args.out}: {len(changed)} file(s) changed" + (": " + ", ".join(changed[:10]) if changed else ""))
    for path, text in ((args.options, options_text), (args.readme, readme_text)):
        if path is not None and text is not None:
            print(f"{path}: {'rewritten' if write_if_changed(path, text) else 'unchanged'}")


if __name__ == "__main__":
    main()
