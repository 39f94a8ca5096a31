"""What each `ppio` command does, once `cli.py` has parsed its arguments.

Each `cmd_*` returns the exit status on success and lets the SDK's errors propagate: `cli.main` maps
them to messages and exit statuses. Results go to stdout, progress and notes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from itertools import islice
from pathlib import Path
from typing import Any

from ppio_txt2img import _constants as C
from ppio_txt2img._client import Client, ModelFilters
from ppio_txt2img._http import without_query
from ppio_txt2img._results import Generation, Model, Task

from ._parser import request_options
from ._progress import Progress, format_eta, status_label

__all__ = [
    "SANDBOX_API_KEY",
    "CommandError",
    "UsageError",
    "cmd_gallery",
    "cmd_models",
    "cmd_sandbox",
    "cmd_task",
    "cmd_txt2img",
    "cmd_wait",
    "interrupted_message",
]

#: The key sent to the in-process sandbox (it accepts any non-empty key); a real key is never sent there.
SANDBOX_API_KEY = "sandbox"
_SANDBOX_EXTRA = "pip install 'ppio-txt2img[sandbox]'"


class UsageError(Exception):
    """Bad input found by the CLI itself (exit status 2)."""


class CommandError(Exception):
    """A failure outside the SDK, e.g. an image that could not be written (exit status 1)."""


# ---------------------------------------------------------------------------------------- connection
@contextlib.contextmanager
def open_client(args: argparse.Namespace) -> Iterator[Client]:
    """A `Client` for the parsed connection options; with `--sandbox`, one talking to a fresh emulator."""
    with contextlib.ExitStack() as stack:
        base_url, api_key = args.base_url, args.api_key
        if getattr(args, "sandbox", False):
            if base_url:
                raise UsageError("--sandbox and --base-url cannot be combined")
            base_url, api_key = stack.enter_context(_start_sandbox(args.sandbox_speed)), SANDBOX_API_KEY
        elif getattr(args, "sandbox_speed", None) is not None:
            raise UsageError("--sandbox-speed needs --sandbox")
        elif not (api_key or os.environ.get(C.ENV_API_KEY)):
            raise UsageError(f"no API key: pass --api-key or set {C.ENV_API_KEY} (or try --sandbox)")
        options: dict[str, Any] = {}
        if args.timeout is not None:
            options["timeout"] = args.timeout
        if args.max_retries is not None:
            options["max_retries"] = args.max_retries
        yield stack.enter_context(Client(api_key, base_url=base_url, **options))


def _start_sandbox(speed: float | None) -> AbstractContextManager[str]:
    try:
        from ppio_txt2img import sandbox
    except ImportError as exc:
        raise UsageError(f"--sandbox needs the sandbox extra: {_SANDBOX_EXTRA} ({exc})") from None
    try:
        instance = sandbox.Sandbox() if speed is None else sandbox.Sandbox(speed=speed)
    except ValueError as exc:
        raise UsageError(f"--sandbox-speed: {exc}") from None
    return instance.serve()


def interrupted_message(task_id: str | None, *, sandbox: bool) -> str:
    """What to say after Ctrl-C: the task id and how to resume, when there is a task."""
    if task_id is None:
        return "interrupted (no task id was received; if the request had been sent, a task may exist)"
    if sandbox:
        return f"interrupted; task {task_id} ran in the in-process sandbox, which has stopped with it"
    return f"interrupted; task {task_id} may still be running; resume with: ppio wait {task_id}"


# ------------------------------------------------------------------------------------------ commands
def cmd_txt2img(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio txt2img PROMPT`: submit, wait with progress, save, print the paths."""
    options = request_options(args)
    output = _output_dir(args.output)
    _check_sheet_path(args.sheet)
    with open_client(args) as client:
        generation = client.txt2img(args.prompt, **options, on_progress=progress)
    return _save_and_report(generation, output, args, progress)


def cmd_wait(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio wait TASK_ID`: like txt2img, for a task submitted earlier."""
    output = _output_dir(args.output)
    _check_sheet_path(args.sheet)
    with open_client(args) as client:
        generation = client.wait(args.task_id, on_progress=progress)
    return _save_and_report(generation, output, args, progress)


def cmd_task(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio task TASK_ID`: one look. Exit 0 whenever the look succeeded, whatever the task's status."""
    with open_client(args) as client:
        task = client.get_task(args.task_id)
    if args.json:
        _print_json(task_json(task))
        return 0
    rows = [("task", task.id), ("status", f"{status_label(task.status)} ({task.status})")]
    if task.progress:
        rows.append(("progress", f"{task.progress:g}%"))
    if eta := format_eta(task.eta):
        rows.append(("eta", eta))
    if task.reason:
        rows.append(("reason", task.reason))
    if task.seed is not None:
        rows.append(("seed", str(task.seed)))
    if task.images:
        expires = task.images[0].expires_at
        until = f" (URLs expire {expires:%Y-%m-%d %H:%M:%S %Z})" if expires else ""
        rows.append(("images", f"{len(task.images)}{until}"))
    for key, value in rows:
        print(f"{key:<9}{value}")
    return 0


def cmd_models(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio models`: the catalogue as a table (or JSON), at most `--limit` rows."""
    if args.limit < 1:
        raise UsageError(f"--limit: {args.limit} is not allowed; allowed: an integer >= 1")
    filters: ModelFilters = {"page_size": min(args.limit + 1, C.DEFAULT_MODELS_PAGE_SIZE)}
    for name in ("types", "visibility", "source", "query"):
        if getattr(args, name) is not None:
            filters[name] = getattr(args, name)
    if args.sdxl is not None:
        filters["is_sdxl"] = args.sdxl
    if args.inpainting:
        filters["is_inpainting"] = True
    with open_client(args) as client:
        found = list(islice(client.models(**filters), args.limit + 1))
    models, more = found[: args.limit], len(found) > args.limit
    if args.json:
        _print_json([model_json(m) for m in models])
    else:
        sdxl = {True: "yes", False: "no", None: ""}
        rows = [[m.sd_name, m.type, sdxl[m.is_sdxl], m.base_model, m.name] for m in models]
        _print_table(["SD_NAME", "TYPE", "SDXL", "BASE_MODEL", "NAME"], rows)
    if more:
        print(f"(more models match; raise --limit above {args.limit} to see them)", file=sys.stderr)
    return 0


def cmd_gallery(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio gallery OUT`: write OUT/index.html with every thumbnail drawn; print its path."""
    from ppio_txt2img.gallery import write_gallery

    if not Path(args.out).is_dir():
        raise UsageError(f"{args.out}: not a directory (the output directory of a batch)")
    try:
        path = write_gallery(args.out, thumbnail_budget=None)
    except OSError as exc:
        raise CommandError(f"could not write the gallery in {args.out}: {exc}") from None
    print(path)
    return 0


def cmd_sandbox(argv: Sequence[str]) -> int:
    """`ppio sandbox [options]`: parsed and run by the sandbox's own argument helpers."""
    try:
        from ppio_txt2img.sandbox import add_arguments, config_from_args, run_from_args
    except ImportError as exc:
        raise UsageError(f"the sandbox needs its extra: {_SANDBOX_EXTRA} ({exc})") from None
    parser = argparse.ArgumentParser(
        prog="ppio sandbox", description="Run an offline emulator of the PPIO / Novita v3 text-to-image API."
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(list(argv))
        config_from_args(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return run_from_args(args)


# -------------------------------------------------------------------------------------------- output
def _output_dir(path: str) -> Path:
    """Create the output directory now, so a bad one fails before anything is sent (or paid for)."""
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot create the directory ({exc.strerror or exc})") from None
    return directory


#: What `--sheet PATH` may end with (formats Pillow writes without extra libraries).
_SHEET_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def _check_sheet_path(sheet: str | None) -> None:
    """A `--sheet PATH` Pillow cannot write fails before anything is sent (or paid for)."""
    if sheet and Path(sheet).suffix.lower() not in _SHEET_SUFFIXES:
        raise UsageError(f"--sheet {sheet}: the file name must end in {', '.join(_SHEET_SUFFIXES)}")


def _save_sheet(generation: Generation, sheet: str, output: Path) -> tuple[Path, tuple[int, int]]:
    """Draw the contact sheet and save it (`""`: the default, OUT/<task_id>-sheet.png)."""
    path = Path(sheet) if sheet else output / f"{generation.task_id}-sheet.png"
    try:
        picture = generation.contact_sheet()
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path)
    except (OSError, ValueError) as exc:
        raise CommandError(
            f"task {generation.task_id}: could not save the contact sheet {path}: {exc}"
        ) from None
    return path, picture.size


def _save_and_report(
    generation: Generation, output: Path, args: argparse.Namespace, progress: Progress
) -> int:
    progress.done()
    paths = []
    for image in generation.images:
        try:
            paths.append(image.save(output))
        except OSError as exc:
            raise CommandError(
                f"task {generation.task_id}: could not save image {image.index} in {output}: {exc}"
            ) from None
    sheet = None if args.sheet is None else _save_sheet(generation, args.sheet, output)
    if args.json:
        result = generation_json(generation, paths)
        if sheet is not None:
            result["sheet"] = {"path": str(sheet[0]), "width": sheet[1][0], "height": sheet[1][1]}
        _print_json(result)
        return 0
    count = f"{len(paths)} image" + ("" if len(paths) == 1 else "s")
    progress.note(f"task {generation.task_id} done (seed {generation.seed}); saved {count}:")
    for path, image in zip(paths, generation.images, strict=True):
        print(f"{path}  {image.width}x{image.height}  {image.format}  {len(image.data)} bytes")
    if sheet is not None:
        print(f"{sheet[0]}  {sheet[1][0]}x{sheet[1][1]}  contact sheet")
    return 0


def generation_json(generation: Generation, paths: Sequence[Path]) -> dict[str, Any]:
    images = []
    for path, image in zip(paths, generation.images, strict=True):
        entry: dict[str, Any] = {
            "index": image.index,
            "path": str(path),
            "format": image.format,
            "width": image.width,
            "height": image.height,
            "bytes": len(image.data),
            "url": without_query(image.url),
        }
        if image.nsfw is not None:
            entry["nsfw"] = {"valid": image.nsfw.valid, "confidence": image.nsfw.confidence}
        images.append(entry)
    return {"task_id": generation.task_id, "seed": generation.seed, "images": images}


def task_json(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "status": task.status,
        "progress": task.progress,
        "eta": task.eta,
        "reason": task.reason,
        "task_type": task.task_type,
        "seed": task.seed,
        "images": [
            {
                "url": without_query(ref.url),
                "image_type": ref.image_type,
                "expires_at": ref.expires_at.isoformat() if ref.expires_at else None,
            }
            for ref in task.images
        ],
    }


def model_json(model: Model) -> dict[str, Any]:
    fields: Sequence[str] = (
        "id",
        "name",
        "sd_name",
        "sd_name_in_api",
        "type",
        "is_sdxl",
        "base_model",
        "status",
    )
    return {**{name: getattr(model, name) for name in fields}, "tags": list(model.tags)}


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(header)] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
