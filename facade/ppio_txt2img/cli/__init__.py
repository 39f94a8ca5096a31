"""The `ppio` command: text-to-image from the shell, on top of the public API.

    ppio txt2img "a red fox in snow" -o out -n 2 --width 768 --height 512
    ppio txt2img "a red fox in snow" --sandbox -o out        # offline, no API key
    ppio task TASK_ID            ppio wait TASK_ID -o out
    ppio models --type checkpoint --sdxl
    ppio batch prompts.jsonl -o out --ipm 20     # many prompts, resumable
    ppio gallery OUT             # (re)write OUT/index.html, the gallery of a batch's output
    ppio sandbox --port 8000     # then --sandbox on any command uses it: tasks last across commands

Exit status: 0 done; 2 bad input (nothing was sent); 1 the API, the network or the task failed;
130 interrupted (the task id and how to resume are printed). Progress goes to stderr, results to stdout;
with `--json`, a failure is a JSON object on stdout too (`_failure.py`). Standard library `argparse`
only; the parser is in `_parser.py`, the commands in `_commands.py`, the progress display in
`_progress.py` (what it shows: `_display.py`, pure), the sandbox session's state file in `_session.py`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence

from ppio_txt2img._errors import (
    AuthenticationError,
    ImageError,
    NotFoundError,
    PPIOError,
    ValidationError,
    WaitTimeoutError,
)

from ._batch import cmd_batch
from ._commands import (
    IN_PROCESS,
    KEYED_SANDBOX_HINT,
    RUNNING,
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
from ._failure import error_object, failure_text
from ._parser import ArgumentsError, build_parser, flag_for_field, json_command, parse_args
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
        return _usage_error_json(undecodable, json_command(build_parser(), args_list))
    if args_list[:1] == ["contract"]:  # its own options, and its extra (imported only now)
        return _guard(lambda: cmd_contract(args_list[1:]), None, argparse.Namespace())
    if args_list[:1] == ["sandbox"]:  # the emulator parses its own options (and is imported only now)
        return _guard(lambda: cmd_sandbox(args_list[1:]), None, argparse.Namespace())
    parser = build_parser()
    try:
        args = parse_args(parser, args_list)
    except ArgumentsError as exc:  # argparse has said it on stderr, with the usage
        return _usage_error_json(exc.message, json_command(parser, args_list))
    except SystemExit as exc:  # --help and --version exit 0
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    progress = Progress(sys.stderr, quiet=getattr(args, "quiet", False))
    command = _COMMANDS[args.command]
    return _guard(lambda: command(args, progress), progress, args)


def _first_non_utf8(arguments: Sequence[str]) -> str | None:
    """A message about the first argument that is not UTF-8 text, if any.

    Python passes undecodable bytes as lone surrogates (`caf\\udce9`); they cannot be sent in a JSON
    body nor printed, so they are refused before anything happens.
    """
    for i, argument in enumerate(arguments):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            if _is_api_key(arguments, i):
                return "the --api-key value is not valid UTF-8 text (not shown); API keys are printable ASCII"
            try:
                raw = repr(argument.encode("utf-8", "surrogateescape"))
            except UnicodeEncodeError:
                raw = ascii(argument)
            return f"argument {raw} is not valid UTF-8 text; ppio takes UTF-8 arguments (check the locale)"
    return None


def _is_api_key(arguments: Sequence[str], i: int) -> bool:
    """Whether `arguments[i]` is (or holds) the value of `--api-key`, as argparse would read it: after
    `--api-key` or an abbreviation of it (`--api`), or as `--api-key=KEY`. Never shown, even refused."""

    def names_the_key(word: str) -> bool:
        return len(word) >= 3 and "--api-key".startswith(word)  # redacting too much costs nothing

    argument = arguments[i]
    if argument.startswith("--") and "=" in argument and names_the_key(argument.split("=", 1)[0]):
        return True
    return i > 0 and names_the_key(arguments[i - 1])


def _usage_error_json(message: str, command: str | None) -> int:
    """Exit status 2 for a usage error found before the command ran (already said on stderr); with
    `--json` (`command`: the command that asked for it), also said as JSON on stdout."""
    if command is not None:
        error = error_object(UsageError(message), message)
        _print_json_failure(failure_text(error, 2, event=command == "batch"))
    return 2


def _print_json_failure(text: str) -> None:
    """`text` on stdout; quietly nothing when its reader went away."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _silence_stdout()


def _guard(run: Callable[[], int], progress: Progress | None, args: argparse.Namespace) -> int:
    """Run a command; turn what it raises into one line on stderr and an exit status (and, with
    `--json`, one JSON object on stdout: `_failure.py`). Nothing escapes as a traceback: an error this
    does not expect still gives one line (and exit status 1)."""

    def fail(exc: BaseException, message: str, code: int, *, line: str = "error: ", **extra: object) -> int:
        if progress is not None:
            progress.finish()
        print(f"ppio: {line}{message}", file=sys.stderr)
        if getattr(args, "json", False):
            task_id = progress.task_id if progress is not None else None
            error = error_object(exc, message, task_id=task_id, **extra)
            _print_json_failure(failure_text(error, code, event=args.command == "batch"))
        return code

    try:
        return run()
    except ValidationError as exc:  # raised before any request: exit 2, naming the field and the flag
        flag = flag_for_field(exc.field)
        if exc.field == "base_url" and getattr(args, "base_url", None) is None:  # not a flag's: the env's
            return fail(exc, f"{exc} (environment variable PPIO_BASE_URL)", 2, option=None)
        return fail(exc, f"{exc}" + (f" (option {flag})" if flag else ""), 2, option=flag)
    except UsageError as exc:
        return fail(exc, str(exc), 2)
    except WaitTimeoutError as exc:
        resume = resume_command(exc.task_id, _session(args), args) if exc.task_id else None
        message = str(exc).replace(f"; resume with client.wait({exc.task_id!r})", "")  # Python's hint
        message += f"; resume with: {resume}" if resume else ""
        return fail(exc, message, 1, resume_command=_runnable_resume(exc.task_id, args))
    except NotFoundError as exc:
        hint = f"; {SESSION_HINT}" if exc.task_id and _session(args) == IN_PROCESS else ""
        return fail(exc, f"{exc}{hint}", 1)
    except AuthenticationError as exc:
        hint = f"; {KEYED_SANDBOX_HINT}" if _session(args) == RUNNING else ""
        return fail(exc, f"{exc}{hint}", 1)
    except ImageError as exc:  # some images did not arrive: those that did are saved (`progress.saved`)
        saved = progress.saved if progress is not None else []
        kept = f"; saved the {len(saved)} that arrived: {', '.join(saved)}" if saved else ""
        return fail(exc, f"{exc}{kept}", 1, saved=saved)
    except CommandError as exc:  # e.g. an image that could not be saved: those saved before it listed
        if progress is not None and progress.saved:
            return fail(exc, str(exc), 1, saved=progress.saved)
        return fail(exc, str(exc), 1)
    except PPIOError as exc:  # API, network and task errors: exit 1
        return fail(exc, str(exc), 1)
    except KeyboardInterrupt as exc:
        task_id = getattr(exc, "task_id", None) or (progress.task_id if progress else None)
        succeeded = progress is not None and progress.succeeded
        message = interrupted_message(task_id, _session(args), args, succeeded=succeeded)
        return fail(exc, message, 130, line="", resume_command=_runnable_resume(task_id, args))
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
        return fail(exc, f"cannot encode the text given: {exc}", 2)
    except (OSError, sqlite3.Error) as exc:  # the machine's, not ppio's: a full disk, a read-only file
        batch = getattr(args, "command", None) == "batch"
        again = "; free some space or fix the file, then rerun the same command to resume" if batch else ""
        return fail(exc, f"could not read or write a file: {exc}{again}", 1)
    except Exception as exc:  # a bug in ppio, or an environment it did not foresee: still one line
        return fail(exc, f"unexpected {type(exc).__name__}: {exc} (please report this)", 1)


def _runnable_resume(task_id: str | None, args: argparse.Namespace) -> str | None:
    """For `--json`: the command that resumes the wait, as a shell runs it (an `--api-key` flag given
    is not repeated there: add it back), None when there is none."""
    return resume_command(task_id, _session(args), args, key_note=False) if task_id else None


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
