"""What each `ppio` command does, once `cli.py` has parsed its arguments.

Each `cmd_*` returns the exit status on success and lets the SDK's errors propagate: `cli.main` maps
them to messages and exit statuses. Results go to stdout, progress and notes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from itertools import islice
from pathlib import Path
from typing import Any

from ppio_txt2img import _constants as C
from ppio_txt2img._client import Client, ModelFilters
from ppio_txt2img._errors import ImageError
from ppio_txt2img._request_body import build_txt2img_body
from ppio_txt2img._results import Generation, file_stem
from ppio_txt2img._validation import validate_txt2img_body

from ._display import format_eta, json_text, reported_percent, status_label
from ._parser import request_options
from ._progress import Progress
from ._session import find_running, forget, remember

__all__ = [
    "IN_PROCESS",
    "KEYED_SANDBOX_HINT",
    "RUNNING",
    "SANDBOX_API_KEY",
    "SESSION_HINT",
    "CommandError",
    "UsageError",
    "cmd_contract",
    "connection",
    "cmd_gallery",
    "cmd_models",
    "cmd_sandbox",
    "cmd_task",
    "cmd_txt2img",
    "cmd_wait",
    "interrupted_message",
    "resume_command",
]

#: The key sent to the in-process sandbox (it accepts any non-empty key); a real key is never sent there.
SANDBOX_API_KEY = "sandbox"
_CONTRACT_EXTRA = "pip install 'ppio-txt2img[contract]'"
_SANDBOX_EXTRA = "pip install 'ppio-txt2img[sandbox]'"


class UsageError(Exception):
    """Bad input found by the CLI itself (exit status 2)."""


class CommandError(Exception):
    """A failure outside the SDK, e.g. an image that could not be written (exit status 1)."""


# ---------------------------------------------------------------------------------------- connection
#: `args.sandbox_session` after `open_client`: which sandbox `--sandbox` used (None: no sandbox).
IN_PROCESS, RUNNING = "in-process", "running"


@contextlib.contextmanager
def open_client(args: argparse.Namespace) -> Iterator[Client]:
    """A `Client` for the parsed connection options.

    With `--sandbox`: the running `ppio sandbox` its state file names, else a fresh emulator in this
    process; `args.sandbox_session` records which (`RUNNING`, `IN_PROCESS`), for the error messages.
    """
    with contextlib.ExitStack() as stack:
        api_key, base_url, options = connection(args, stack)
        yield stack.enter_context(Client(api_key, base_url=base_url, **options))


def connection(
    args: argparse.Namespace, stack: contextlib.ExitStack
) -> tuple[str | None, str | None, dict[str, Any]]:
    """The API key, base URL and client options the parsed connection flags give; with `--sandbox`,
    those of the running `ppio sandbox` (its state file), else of a fresh emulator in this process,
    kept running by `stack`. `args.sandbox_session` records which (`RUNNING`, `IN_PROCESS`)."""
    args.sandbox_session = None
    base_url, api_key = args.base_url, args.api_key
    if getattr(args, "sandbox", False):
        if base_url:
            raise UsageError("--sandbox and --base-url cannot be combined")
        running = find_running()
        if running is not None:
            if args.sandbox_speed is not None:
                print(
                    f"ppio: note: --sandbox-speed ignored: using the running sandbox at "
                    f"{running.base_url}, which has its own speed",
                    file=sys.stderr,
                )
            # Only a key given on the command line goes there (`ppio sandbox --api-key K`).
            base_url, api_key = running.base_url, api_key or SANDBOX_API_KEY
            args.sandbox_session = RUNNING
        else:
            base_url, api_key = stack.enter_context(_start_sandbox(args.sandbox_speed)), SANDBOX_API_KEY
            args.sandbox_session = IN_PROCESS
    elif getattr(args, "sandbox_speed", None) is not None:
        raise UsageError("--sandbox-speed needs --sandbox")
    elif not (api_key or os.environ.get(C.ENV_API_KEY)):
        raise UsageError(f"no API key: pass --api-key or set {C.ENV_API_KEY} (or try --sandbox)")
    options: dict[str, Any] = {}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    return api_key, base_url, options


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


#: What to do when a task id is unknown to an in-process sandbox (it knows only its own tasks).
KEYED_SANDBOX_HINT = (
    "the running `ppio sandbox` was started with --api-key: pass the same --api-key (under --sandbox, "
    "a key from PPIO_API_KEY is never sent to the sandbox)"
)
SESSION_HINT = (
    "no `ppio sandbox` is running, so --sandbox started one in this command, which knows no earlier "
    "tasks; start `ppio sandbox` in another terminal, then use --sandbox: tasks then last across commands"
)


def resume_command(
    task_id: str, session: str | None, args: argparse.Namespace | None = None, *, key_note: bool = True
) -> str | None:
    """The command that resumes waiting for `task_id` as the interrupted one waited (`args`: its output
    directory, contact sheet and `--base-url`, the flags that decide where the task is and where its
    images go; an `--api-key` flag is named after it, never shown, unless not `key_note`: then the
    command alone, as a shell runs it); None when nothing can (in-process sandbox)."""
    if session == IN_PROCESS:
        return None
    parts = ["ppio", "wait", task_id]
    output, sheet = getattr(args, "output", "."), getattr(args, "sheet", None)
    if output not in (None, "."):
        parts += ["-o", output]
    if sheet is not None:
        parts += ["--sheet", *([sheet] if sheet else [])]
    if session == RUNNING:
        parts.append("--sandbox")
    elif (base_url := getattr(args, "base_url", None)) is not None:
        parts += ["--base-url", base_url]
    command = shlex.join(parts)
    needs_key = key_note and getattr(args, "api_key", None) is not None
    return command + (" (and the same --api-key)" if needs_key else "")


def interrupted_message(
    task_id: str | None,
    session: str | None,
    args: argparse.Namespace | None = None,
    *,
    succeeded: bool = False,
) -> str:
    """What to say after Ctrl-C: the task id and how to resume, when there is a task (`succeeded`: it
    was done, and its images were downloading)."""
    if task_id is None:
        if getattr(args, "command", "txt2img") != "txt2img":  # no command but txt2img creates a task
            return "interrupted"
        return "interrupted (no task id was received; if the request had been sent, a task may exist)"
    resume = resume_command(task_id, session, args)
    if resume is None:
        return (
            f"interrupted; task {task_id} ran in the in-process sandbox, which has stopped with it "
            "(run `ppio sandbox` in another terminal, then --sandbox, for tasks that outlive a command)"
        )
    state = "has succeeded; its images were downloading" if succeeded else "may still be running"
    return f"interrupted; task {task_id} {state}; resume with: {resume}"


# ------------------------------------------------------------------------------------------ commands
def cmd_txt2img(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio txt2img PROMPT`: submit, wait with progress, save, print the paths."""
    options = request_options(args)
    _check_sheet_path(args.sheet)
    validate_txt2img_body(build_txt2img_body(args.prompt, options))  # bad input leaves no -o directory
    output = _output_dir(args.output)
    with open_client(args) as client, _keeping_what_arrived(output, progress):
        progress.start()
        generation = client.txt2img(args.prompt, **options, on_progress=progress, extra_body=args.extra_body)
    return _save_and_report(generation, output, args, progress)


def cmd_wait(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio wait TASK_ID`: like txt2img, for a task submitted earlier."""
    _check_sheet_path(args.sheet)
    output = _output_dir(args.output)
    with open_client(args) as client, _keeping_what_arrived(output, progress):
        progress.start()
        generation = client.wait(args.task_id, on_progress=progress)
    return _save_and_report(generation, output, args, progress)


def cmd_task(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio task TASK_ID`: one look. Exit 0 whenever the look succeeded, whatever the task's status."""
    with open_client(args) as client:
        task = client.get_task(args.task_id)
    if args.json:
        _print_json(task.to_dict())
        return 0
    rows = [("task", task.id), ("status", f"{status_label(task.status)} ({task.status})")]
    if percent := reported_percent(task):
        rows.append(("progress", f"{percent}%"))
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


#: The most models `ppio models` lists: the client's own cap on pages (`MAX_MODEL_PAGES`) of the largest.
_MAX_LIMIT = C.MAX_MODEL_PAGES * C.DEFAULT_MODELS_PAGE_SIZE


def cmd_models(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio models`: the catalogue as a table (or JSON), at most `--limit` rows."""
    if not 1 <= args.limit <= _MAX_LIMIT:
        raise UsageError(f"--limit: {args.limit} is not allowed; allowed: an integer from 1 to {_MAX_LIMIT}")
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
        _print_json([m.to_dict() for m in models])
    else:
        sdxl = {True: "yes", False: "no", None: ""}
        rows = [[m.sd_name, m.type, sdxl[m.is_sdxl], m.base_model, m.name] for m in models]
        _print_table(["SD_NAME", "TYPE", "SDXL", "BASE_MODEL", "NAME"], rows)
    if more:
        print(f"(more models match; raise --limit above {args.limit} to see them)", file=sys.stderr)
    return 0


def cmd_gallery(args: argparse.Namespace, progress: Progress) -> int:
    """`ppio gallery OUT [--json]`: write OUT/index.html with every thumbnail drawn; print its path."""
    from ppio_txt2img.gallery import MANIFEST_FILE, write_gallery

    if not Path(args.out).is_dir():
        raise UsageError(f"{args.out}: not a directory (the output directory of a batch)")
    if not (Path(args.out) / MANIFEST_FILE).is_file():  # a directory given by mistake: nothing written
        raise UsageError(f"{args.out}: no {MANIFEST_FILE} here: not the output directory of a batch")
    try:
        path = write_gallery(args.out, thumbnail_budget=None)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"could not write the gallery in {args.out}: {exc}") from None
    if args.json:
        _print_json({"gallery": str(path)})
    else:
        print(path)
    return 0


def cmd_contract(argv: Sequence[str]) -> int:
    """`ppio contract [options]`: parsed and run by `ppio_txt2img.contract` (it needs its extra)."""
    try:
        from ppio_txt2img import contract
    except ImportError as exc:
        raise UsageError(f"ppio contract needs its extra: {_CONTRACT_EXTRA} ({exc})") from None
    return contract.main(list(argv))


def cmd_sandbox(argv: Sequence[str]) -> int:
    """`ppio sandbox [options]`: the emulator in the foreground until Ctrl-C (or SIGTERM).

    Options are parsed by the sandbox's own argument helpers. While it serves, its address is in the
    session state file (`_session`), so `--sandbox` on other commands uses it and tasks last across
    commands.
    """
    try:
        from ppio_txt2img.sandbox import Sandbox, add_arguments, config_from_args
        from ppio_txt2img.sandbox._cli import listen_address
        from ppio_txt2img.sandbox._server import ListenError
    except ImportError as exc:
        raise UsageError(f"the sandbox needs its extra: {_SANDBOX_EXTRA} ({exc})") from None
    parser = argparse.ArgumentParser(
        prog="ppio sandbox",
        description="Run an offline emulator of the PPIO / Novita v3 text-to-image API. While it runs, "
        "--sandbox on any other ppio command uses it, so tasks last across commands.",
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(list(argv))
        sandbox = Sandbox(config_from_args(args))
        host, port = listen_address(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with _sigterm_interrupts(), contextlib.suppress(KeyboardInterrupt), contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(sandbox.serve(host, port))
        except ListenError as exc:  # an impossible address is bad input; a busy port is not
            raise (UsageError if exc.invalid else CommandError)(str(exc)) from None
        other = find_running()  # taking its state file over would orphan it
        if other is None:  # written before "listening" is said: whoever reads that finds the file
            path = remember(base_url)
            stack.callback(forget, path)
        print(f"ppio sandbox listening on {base_url} (Ctrl-C to stop)", flush=True)
        if other is not None:
            print(
                f"another ppio sandbox (pid {other.pid}) serves at {other.base_url}, and --sandbox keeps "
                f"using that one; reach this one with --base-url {base_url}",
                flush=True,
            )
        else:
            print(f"use --sandbox on any ppio command to reach it (address kept in {path})", flush=True)
        while True:
            time.sleep(3600)
    return 0


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C (so the state file is removed), in the main thread."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except (ValueError, AttributeError):  # not the main thread, or no SIGTERM here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -------------------------------------------------------------------------------------------- output
def _output_dir(path: str) -> Path:
    """Create the output directory now, so a bad one fails before anything is sent (or paid for)."""
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot create the directory ({exc.strerror or exc})") from None
    try:  # one that exists but takes no file (read-only, no permission) fails now, not once paid for
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".ppio-write-check-"):
            pass
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot write in the directory ({exc.strerror or exc})") from None
    return directory


#: What `--sheet PATH` may end with (formats Pillow writes without extra libraries).
_SHEET_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def _check_sheet_path(sheet: str | None) -> None:
    """A `--sheet PATH` Pillow cannot write fails before anything is sent (or paid for)."""
    if sheet and Path(sheet).suffix.lower() not in _SHEET_SUFFIXES:
        raise UsageError(f"--sheet {sheet}: the file name must end in {', '.join(_SHEET_SUFFIXES)}")


def _save_sheet(generation: Generation, sheet: str, output: Path) -> tuple[Path, tuple[int, int]]:
    """Draw the contact sheet and save it (`""`: the default, OUT/<task_id>-sheet.png)."""
    path = Path(sheet) if sheet else output / f"{file_stem(generation.task_id)}-sheet.png"
    try:
        picture = generation.contact_sheet()
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path)
    except (OSError, ValueError) as exc:
        raise CommandError(
            f"task {generation.task_id}: could not save the contact sheet {path}: {exc}"
        ) from None
    return path, picture.size


@contextlib.contextmanager
def _keeping_what_arrived(output: Path, progress: Progress) -> Iterator[None]:
    """When some images of a task did not arrive (`ImageError`), save those that did (they are paid for)
    before the error goes on: where, in `progress.saved`. One that cannot be saved is left out (the error
    that matters is the download's)."""
    try:
        yield
    except ImageError as exc:
        for image in exc.images:
            with contextlib.suppress(OSError):
                progress.saved.append(str(image.save(output)))
        raise


def _save_and_report(
    generation: Generation, output: Path, args: argparse.Namespace, progress: Progress
) -> int:
    progress.done()
    paths = []
    for image in generation.images:
        try:
            paths.append(image.save(output))
        except OSError as exc:
            progress.saved = [str(path) for path in paths]  # those before it: the error lists them
            kept = f"; saved before it: {', '.join(progress.saved)}" if paths else ""
            again = ""
            if getattr(args, "sandbox_session", None) != IN_PROCESS:  # the task outlives this command
                again = (
                    f"; the task is done: `ppio wait {generation.task_id} -o DIR` fetches its images again"
                )
            failed = f"task {generation.task_id}: could not save image {image.index} in {output}: {exc}"
            raise CommandError(f"{failed}{kept}{again}") from None
    progress.saved = [str(path) for path in paths]
    try:
        sheet = None if args.sheet is None else _save_sheet(generation, args.sheet, output)
    except CommandError as exc:  # the images are saved all the same: say where
        raise CommandError(f"{exc}; the images were saved: {', '.join(progress.saved)}") from None
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
    """`Generation.to_dict()` with where each image was saved."""
    result = generation.to_dict()
    result["images"] = [
        {"index": entry.pop("index"), "path": str(path), **entry}
        for entry, path in zip(result["images"], paths, strict=True)
    ]
    return result


def _print_json(value: object) -> None:
    print(json_text(value, indent=2))


def _print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(header)] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
