"""The `ppio` command: text-to-image from the shell, on top of the public API.

    ppio txt2img "a red fox in snow" -o out -n 2 --width 768 --height 512
    ppio txt2img "a red fox in snow" --sandbox -o out        # offline, no API key
    ppio task TASK_ID            ppio wait TASK_ID -o out
    ppio models --type checkpoint --sdxl
    ppio batch prompts.jsonl -o out --ipm 20     # many prompts, resumable
    ppio gallery OUT             # (re)write OUT/index.html, the gallery of a batch's output
    ppio sandbox --port 8000     # then --sandbox on any command uses it: tasks last across commands

Exit status: 0 done; 2 bad input (nothing was sent); 1 the API, the network or the task failed;
130 interrupted (the task id and how to resume are printed). Progress goes to stderr, results to stdout.
Standard library `argparse` only; the parser is in `_parser.py`, the commands in `_commands.py`, the
progress display in `_progress.py` (what it shows: `_display.py`, pure), the sandbox session's state
file in `_session.py`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ppio_txt2img._errors import NotFoundError, PPIOError, ValidationError, WaitTimeoutError

from ._batch import cmd_batch
from ._commands import (
    IN_PROCESS,
    SESSION_HINT,
    CommandError,
    UsageError,
    cmd_contract,
    cmd_gallery,
    cmd_models,
    cmd_sandbox,
    cmd_task,
    cmd_txt2img,
    cmd_wait,
    interrupted_message,
    resume_command,
)
from ._parser import build_parser, flag_for_field, parse_args
from ._progress import Progress

__all__ = ["main"]

_COMMANDS: dict[str, Callable[[argparse.Namespace, Progress], int]] = {
    "txt2img": cmd_txt2img,
    "wait": cmd_wait,
    "task": cmd_task,
    "models": cmd_models,
    "batch": cmd_batch,
    "gallery": cmd_gallery,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run `ppio` with `argv` (default: `sys.argv[1:]`); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if (undecodable := _first_non_utf8(args_list)) is not None:
        print(f"ppio: error: {undecodable}", file=sys.stderr)
        return 2
    if args_list[:1] == ["contract"]:  # its own options, and its extra (imported only now)
        return _guard(lambda: cmd_contract(args_list[1:]), None, argparse.Namespace())
    if args_list[:1] == ["sandbox"]:  # the emulator parses its own options (and is imported only now)
        return _guard(lambda: cmd_sandbox(args_list[1:]), None, argparse.Namespace())
    try:
        args = parse_args(build_parser(), args_list)
    except SystemExit as exc:  # --help and --version exit 0, usage errors 2
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    progress = Progress(sys.stderr, quiet=getattr(args, "quiet", False))
    command = _COMMANDS[args.command]
    return _guard(lambda: command(args, progress), progress, args)


def _first_non_utf8(arguments: Sequence[str]) -> str | None:
    """A message about the first argument that is not UTF-8 text, if any.

    Python passes undecodable bytes as lone surrogates (`caf\\udce9`); they cannot be sent in a JSON
    body nor printed, so they are refused before anything happens.
    """
    for argument in arguments:
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            try:
                raw = repr(argument.encode("utf-8", "surrogateescape"))
            except UnicodeEncodeError:
                raw = ascii(argument)
            return f"argument {raw} is not valid UTF-8 text; ppio takes UTF-8 arguments (check the locale)"
    return None


def _guard(run: Callable[[], int], progress: Progress | None, args: argparse.Namespace) -> int:
    """Run a command; turn what it raises into one line on stderr and an exit status. Nothing escapes
    as a traceback: an error this does not expect still gives one line (and exit status 1)."""

    def fail(message: str, code: int) -> int:
        if progress is not None:
            progress.finish()
        print(f"ppio: error: {message}", file=sys.stderr)
        return code

    try:
        return run()
    except ValidationError as exc:  # raised before any request: exit 2, naming the field and the flag
        flag = flag_for_field(exc.field)
        return fail(f"{exc}" + (f" (option {flag})" if flag else ""), 2)
    except UsageError as exc:
        return fail(str(exc), 2)
    except WaitTimeoutError as exc:
        resume = resume_command(exc.task_id, _session(args), args) if exc.task_id else None
        message = str(exc).replace(f"; resume with client.wait({exc.task_id!r})", "")  # Python's hint
        return fail(message + (f"; resume with: {resume}" if resume else ""), 1)
    except NotFoundError as exc:
        hint = f"; {SESSION_HINT}" if exc.task_id and _session(args) == IN_PROCESS else ""
        return fail(f"{exc}{hint}", 1)
    except (PPIOError, CommandError) as exc:  # API, network, task and image errors: exit 1
        return fail(str(exc), 1)
    except KeyboardInterrupt as exc:
        if progress is not None:
            progress.finish()
        task_id = getattr(exc, "task_id", None) or (progress.task_id if progress else None)
        succeeded = progress is not None and progress.succeeded
        print(
            f"ppio: {interrupted_message(task_id, _session(args), args, succeeded=succeeded)}",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:  # `ppio models | head`: the reader went away; stay quiet
        _silence_stdout()
        if getattr(args, "command", None) == "batch":  # stopped half-way: say how to finish it
            print(
                "ppio: stdout was closed (its reader went away), so the batch stopped; "
                "rerun the same command to resume it",
                file=sys.stderr,
            )
        return 1
    except UnicodeError as exc:  # text that cannot be encoded (e.g. in a file name or a header)
        return fail(f"cannot encode the text given: {exc}", 2)
    except Exception as exc:  # a bug in ppio, or an environment it did not foresee: still one line
        return fail(f"unexpected {type(exc).__name__}: {exc} (please report this)", 1)


def _session(args: argparse.Namespace) -> str | None:
    """Which sandbox `--sandbox` used (`open_client` records it), None without `--sandbox`."""
    return getattr(args, "sandbox_session", None)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the flush at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
