"""`make demo`: generate two images with the real `ppio` command against the offline sandbox.

Runs `python -m ppio_txt2img txt2img ... --sandbox -o out -n 2 --json` as a subprocess (so the
progress on the terminal is the CLI's own), then opens every image it reports with Pillow to prove
it decodes and has the asked size, and prints path, WxH and bytes. No API key, no network.
Exits non-zero if anything failed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "a lighthouse on a cliff at dusk, oil painting"
WIDTH, HEIGHT, COUNT = 768, 512, 2
#: A bound on the whole run; the sandbox takes about 4 s at its default speed.
TIMEOUT = 120


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="out", help="directory for the images (default: out)")
    args = parser.parse_args(argv)

    command = [
        *("ppio", "txt2img", PROMPT, "--sandbox", "-o", args.output),
        *("-n", str(COUNT), "--width", str(WIDTH), "--height", str(HEIGHT), "--json"),
    ]
    print("ppio-txt2img demo: two images from the offline sandbox (no API key, no network)\n")
    print("$ " + shlex.join(command), flush=True)
    started = time.monotonic()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "ppio_txt2img", *command[1:]],
            cwd=ROOT,
            stdout=subprocess.PIPE,  # the JSON result; progress and errors go straight to the terminal
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return fail(f"the ppio command did not finish within {TIMEOUT} s")
    elapsed = time.monotonic() - started
    if run.returncode != 0:
        return fail(f"the ppio command exited with status {run.returncode}")
    try:
        result = json.loads(run.stdout)
        images = result["images"]
    except (ValueError, KeyError, TypeError) as exc:
        return fail(f"the ppio command printed no valid JSON result ({exc}): {run.stdout!r}")
    if len(images) != COUNT:
        return fail(f"expected {COUNT} images, got {len(images)}")

    print("\nits JSON, each image decoded again to check it (drop --json for ppio's own summary):")
    print(f"task {result['task_id']} (seed {result['seed']}): {COUNT} images in {elapsed:.1f} s")
    problems = 0
    for entry in images:
        path = ROOT / entry["path"]
        try:
            with Image.open(path) as image:
                image.load()  # decode every pixel, not just the header
                size, kind = image.size, image.format
        except OSError as exc:
            problems += 1
            print(f"  {entry['path']}: does not decode: {exc}", file=sys.stderr)
            continue
        nbytes = path.stat().st_size
        print(f"  {entry['path']}  {size[0]}x{size[1]}  {kind}  {nbytes:,} bytes")
        if size != (WIDTH, HEIGHT) or nbytes != entry["bytes"]:
            problems += 1
            print(f"  ^ expected {WIDTH}x{HEIGHT} and {entry['bytes']} bytes", file=sys.stderr)
    if problems:
        return fail(f"{problems} image(s) failed the check")
    print("\nok. Next: `ppio --help`, or drop --sandbox and set PPIO_API_KEY to use the real API.")
    return 0


def fail(message: str) -> int:
    print(f"demo failed: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
