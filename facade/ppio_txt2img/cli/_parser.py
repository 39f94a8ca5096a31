"""The `ppio` argument parser. The request flags, their help (the spec's description, range and the
SDK's default) and their types come from the table generated from the spec (`REQUEST_FLAGS`); this
module only adds the parsers of the object options (`--lora NAME:STRENGTH`, ...).

Each request flag's `dest` is its `RequestOptions` key, so the options dict is read straight off the
parsed namespace, and a `ValidationError.field` (`request.loras[0].strength`) maps back to its flag.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, cast

from ppio_txt2img import __version__
from ppio_txt2img import _constants as C
from ppio_txt2img._inputs import Embedding, HiresFix, Lora, Refiner
from ppio_txt2img._options import OPTION_PATHS, REQUEST_FLAGS, OptionFlag, RequestOptions, Upscaler
from ppio_txt2img._spec import load_spec, resolve
from ppio_txt2img._validation import describe

__all__ = [
    "ArgumentsError",
    "build_parser",
    "flag_for_field",
    "json_command",
    "parse_args",
    "parse_hires_fix",
    "parse_lora",
    "request_options",
]


# ------------------------------------------------------------------------------------ argument types
def parse_lora(text: str) -> Lora:
    """`NAME:STRENGTH` (the name may itself contain colons)."""
    name, sep, strength = text.rpartition(":")
    try:
        if not sep or not name:
            raise ValueError
        return Lora(model_name=name, strength=float(strength))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NAME:STRENGTH, e.g. add_detail:0.7; got {text!r}"
        ) from None


def parse_hires_fix(text: str) -> HiresFix:
    """`WxH:STRENGTH[:UPSCALER]`, e.g. `2048x2048:0.5` or `2048x2048:0.5:Latent`."""
    parts = text.split(":", 2)
    try:
        width, x, height = parts[0].lower().partition("x")
        if len(parts) < 2 or not x:
            raise ValueError
        # Any name: an upscaler the spec does not list is refused, naming the field, before sending.
        upscaler = cast("Upscaler | None", parts[2] if len(parts) == 3 else None)
        return HiresFix(int(width), int(height), float(parts[1]), upscaler)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WxH:STRENGTH[:UPSCALER], e.g. 2048x2048:0.5:Latent; got {text!r}"
        ) from None


def parse_refiner(text: str) -> Refiner:
    """`SWITCH_AT`, a number."""
    try:
        return Refiner(switch_at=float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, e.g. 0.8; got {text!r}") from None


def parse_object(text: str) -> dict[str, Any]:
    """A JSON object: the syntax of an object option this CLI has no shorter one for."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, e.g. '{{\"key\": 1}}'; got {text!r}")
    return value


# ----------------------------------------------------------------------------------- request options
#: How a flag's value is read, by the generated table's `type`: scalars, and the spec's objects.
_VALUE_PARSERS: Mapping[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "str": str,
    "Lora": parse_lora,
    "Embedding": Embedding,
    "HiresFix": parse_hires_fix,
    "Refiner": parse_refiner,
}

#: Flags behind `ValidationError.field` paths that are not request options.
_OTHER_FLAGS = {
    "timeout": "--timeout",
    "max_retries": "--max-retries",
    "base_url": "--base-url",
    "filter.types": "--type",
    "filter.visibility": "--visibility",
    "filter.source": "--source",
    "filter.query": "--query",
    "filter.is_sdxl": "--sdxl",
    "pagination.limit": "--limit",
}
#: The body path of each request flag (`request.width`, `extra.webhook.url`) and the flag.
_FLAG_OF_PATH = {".".join(OPTION_PATHS[f.dest]): f.flags[-1] for f in REQUEST_FLAGS}
_FLAG_OF_OPTION = {f.dest: f.flags[-1] for f in REQUEST_FLAGS}


def _argument(flag: OptionFlag) -> dict[str, Any]:
    """`add_argument` keywords of a generated flag."""
    text = flag.help + (" (repeatable)" if flag.repeat else "")
    kwargs: dict[str, Any] = {"dest": flag.dest, "default": None, "help": text.replace("%", "%%")}
    if flag.type == "switch":
        return {**kwargs, "action": "store_true"}
    kwargs |= {"type": _VALUE_PARSERS.get(flag.type, parse_object), "metavar": flag.metavar}
    return {**kwargs, "action": "append"} if flag.repeat else kwargs


def request_options(args: argparse.Namespace) -> RequestOptions:
    """The request options given on the command line."""
    given = {name: getattr(args, name, None) for name in RequestOptions.__annotations__}
    return {k: v for k, v in given.items() if v is not None}  # type: ignore[return-value]


def flag_for_field(field: str) -> str | None:
    """The flag behind a `ValidationError.field` path: `request.loras[0].strength` -> `--lora`,
    `extra.webhook.url` -> `--webhook-url`, `timeout` -> `--timeout`."""
    if field in _OTHER_FLAGS:
        return _OTHER_FLAGS[field]
    for path, flag in _FLAG_OF_PATH.items():
        if field == path or field.startswith((path + ".", path + "[")):
            return flag
    # An option named by itself, as a call's keyword (`to_plain` reports `loras[0]` that way).
    head = re.split(r"[.\[]", field, maxsplit=1)[0]
    return _FLAG_OF_OPTION.get(head) or _OTHER_FLAGS.get(head)


# -------------------------------------------------------------------------------------------- parser
def _model_filter_help(name: str, text: str) -> str:
    try:
        spec = load_spec()
        params = spec["paths"]["/v3/model"]["get"]["parameters"]
        schema = next(resolve(spec, p["schema"]) for p in params if p.get("name") == name)
        return f"{text}: {describe(schema)}".replace("%", "%%")
    except (KeyError, StopIteration, TypeError, ValueError, ImportError, OSError):
        return text


def _add_connection_options(
    parser: argparse.ArgumentParser,
    *,
    sandbox: bool,
    json_help: str = "print the result as JSON on stdout",
    timeout_help: str = "seconds for the whole call",
) -> None:
    g = parser.add_argument_group("connection")
    g.add_argument(
        "--base-url", metavar="URL", help=f"API address (default: ${C.ENV_BASE_URL} or {C.DEFAULT_BASE_URL})"
    )
    g.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"API key (default: ${C.ENV_API_KEY}; prefer the variable: others can see arguments)",
    )
    g.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help=f"{timeout_help} (default: {C.DEFAULT_TIMEOUT:g})",
    )
    g.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help=f"retries per request on 429, 5xx and connection errors (default: {C.DEFAULT_MAX_RETRIES})",
    )
    if sandbox:
        g.add_argument(
            "--sandbox",
            action="store_true",
            help="use the offline emulator (no key): the running `ppio sandbox` if there is one (tasks "
            "last across commands), else one started in this process (its tasks end with the command)",
        )
        g.add_argument(
            "--sandbox-speed", type=float, metavar="X", help="emulator speed, 10 = ten times faster"
        )
    parser.add_argument("--json", action="store_true", help=json_help)


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", default=".", metavar="DIR", help="save images here (created; default: .)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--sheet",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="also save a contact sheet of all the images (.png, .jpg or .webp; "
        "default: DIR/<task_id>-sheet.png)",
    )


#: The exit statuses of every command but `batch` (which has its own), for `--help`.
_EXIT_STATUS = "Exit status: 0 done, 1 API/network/task error, 2 bad input, 130 interrupted."


def build_parser() -> argparse.ArgumentParser:
    """The `ppio` parser; `command` in the parsed namespace names the command."""
    parser = _Parser(
        prog="ppio",
        description="Generate images with the PPIO / Novita v3 text-to-image API.",
        epilog=_EXIT_STATUS,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "txt2img",
        help="generate images from a prompt and save them",
        description="Submit a text-to-image task, wait for it showing progress, save the images as "
        "DIR/<task_id>-<index>.<ext> and print their paths and sizes.",
        epilog=_EXIT_STATUS,
    )
    p.add_argument("prompt", help="what the image should show")
    _add_wait_options(p)
    group = p.add_argument_group("request options (checked against the API spec before anything is sent)")
    for flag in REQUEST_FLAGS:
        group.add_argument(*flag.flags, **_argument(flag))
    group.add_argument(
        "--extra-body",
        type=parse_object,
        metavar="JSON",
        help="merged into the request body after it was checked, unchecked itself: a field the API added "
        'before this SDK knew it, e.g. \'{"extra": {"enterprise_plan": {"enabled": true}}}\'',
    )
    _add_connection_options(p, sandbox=True)

    p = commands.add_parser("wait", help="wait for an existing task and save its images", epilog=_EXIT_STATUS)
    p.add_argument("task_id", metavar="TASK_ID")
    _add_wait_options(p)
    _add_connection_options(p, sandbox=True)

    p = commands.add_parser(
        "task", help="look at a task once: status, progress, eta, reason", epilog=_EXIT_STATUS
    )
    p.add_argument("task_id", metavar="TASK_ID")
    _add_connection_options(p, sandbox=True)

    p = commands.add_parser("models", help="list models (checkpoints, LoRAs, VAEs, ...)", epilog=_EXIT_STATUS)
    p.add_argument(
        "--type", dest="types", metavar="TYPE", help=_model_filter_help("filter.types", "model type")
    )
    p.add_argument(
        "--sdxl", action=argparse.BooleanOptionalAction, default=None, help="only SDXL (or non-SDXL)"
    )
    p.add_argument("--query", metavar="Q", help="search names and tags")
    p.add_argument("--visibility", metavar="V", help=_model_filter_help("filter.visibility", "visibility"))
    p.add_argument(
        "--source", metavar="S", help=_model_filter_help("filter.source", "where models come from")
    )
    p.add_argument("--inpainting", action="store_true", default=None, help="only inpainting models")
    p.add_argument(
        "--limit", type=int, default=50, metavar="N", help="list at most N models, 1 to 50000 (default: 50)"
    )
    _add_connection_options(p, sandbox=True)

    p = commands.add_parser(
        "batch",
        help="generate images for every line of a file, at the account's rate limit, resumably",
        description="Run (or resume) a batch: images in DIR/images/<line>-<i>.<ext>, one JSON object "
        "per line in DIR/manifest.jsonl, a journal in DIR/journal.sqlite3. Rerunning the same command "
        "resumes: done lines are skipped, submitted tasks waited for, nothing is bought twice.",
        epilog="Exit status: 0 every line done, 1 any line failed or unknown, 2 bad arguments or an "
        "unreadable input, 130 interrupted (rerun to resume).",
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        help=".jsonl (one object per line: prompt plus options) or .txt (one prompt per line)",
    )
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="the batch's directory (created)")
    p.add_argument(
        "--set",
        dest="defaults",
        action="append",
        metavar="KEY=VALUE",
        help="a default option for every line, e.g. width=512 (VALUE read as JSON when it parses)",
    )
    p.add_argument(
        "--ipm",
        type=int,
        metavar="N",
        help="the account's limit in images per minute, never exceeded (default: learnt from 429s)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=16,
        metavar="N",
        help="lines in flight at most (default: 16; with --engine ray, per worker)",
    )
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: workers on a Ray cluster, one rate limit for them all "
        "(needs pip install 'ppio-txt2img[ray]')",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --engine ray: the cluster to join (default: start a local one)",
    )
    p.add_argument(
        "--workers", type=int, default=2, metavar="N", help="with --engine ray: worker actors (default: 2)"
    )
    p.add_argument(
        "--resubmit-unknown",
        action="store_true",
        help="send again the lines whose POST may have created a task without telling us its id",
    )
    p.add_argument("--retry-failed", action="store_true", help="send again the lines whose task failed")
    p.add_argument(
        "--ipm-window",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds in the rate limit's minute (default: 60; less for a sped-up sandbox)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _add_connection_options(
        p,
        sandbox=True,
        json_help="print one event per line on stdout, as JSON: line, progress, warning, summary",
        timeout_help="seconds for each POST, and for each wait of a line (a line is waited for up to "
        f"{C.BATCH_WAIT_ATTEMPTS} times before it fails; a rerun waits again)",
    )

    p = commands.add_parser(
        "gallery",
        help="(re)write OUT/index.html, the gallery of a batch",
        description="Read OUT/manifest.jsonl, draw the thumbnails that are missing or stale and write "
        "OUT/index.html (self-contained, opens from file://); print its path.",
    )
    p.add_argument("out", metavar="OUT", help="the batch's output directory")
    p.add_argument(
        "--json", action="store_true", help='print {"gallery": PATH} on stdout, as JSON (a failure too)'
    )

    # Parsed by the sandbox's own `add_arguments` (imported only when used: it needs the extra).
    commands.add_parser(
        "contract",
        help="contract tests of a server that claims to be this API, free unless --allow-billing "
        "(see: ppio contract --help)",
        add_help=False,
    )
    commands.add_parser(
        "sandbox", help="run the offline API emulator (see: ppio sandbox --help)", add_help=False
    )
    return parser


class _Failed(Exception):
    """A usage error `parse_args` looks at (see `_Parser`)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser, self.message = parser, message


#: Whether `parse_args` is parsing: then a usage error is raised as `_Failed`, for it to look at.
_looking = contextvars.ContextVar("_looking", default=False)


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` (its commands' too) whose usage errors `parse_args` looks at before they are
    reported (with the usage of the parser that found them); elsewhere, argparse's own."""

    def error(self, message: str) -> NoReturn:
        if _looking.get():
            raise _Failed(self, message)
        super().error(message)


class ArgumentsError(SystemExit):
    """A usage error argparse has reported on stderr (the usage, then the message): exit status 2.
    `message` is argparse's message, for `--json` to report as well."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """`parser.parse_args(argv)`, except:

    - arguments a command does not know are reported by that command's parser, with its usage
      (argparse reports them with the top-level usage);
    - a negative number a flag takes (`--guidance-scale -inf`, `-1e-3`) is its value, not a flag
      (argparse takes for one only what looks like `-1` or `-.5`), so its range check names it;
    - a missing prompt (or task id) that a `--sheet` before it may have taken as its path is said to
      be so (`ppio txt2img --sheet "a cat"`). It is not guessed back: `--sheet d` with no prompt
      would then buy an image of "d".

    A usage error is reported as argparse reports it, then raised as `ArgumentsError` (a `SystemExit`
    with status 2, as argparse's own)."""
    argv = _negative_values_joined(parser, list(argv))
    looking = _looking.set(True)
    error: _Failed | None = None
    try:
        args = _parsed(parser, argv)
    except _Failed as failed:
        error = failed
    finally:
        _looking.reset(looking)
    if error is not None:
        try:
            argparse.ArgumentParser.error(error.parser, error.message)  # usage, message, exit status 2
        except SystemExit:
            raise ArgumentsError(error.message) from None
    return args


def json_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The command `argv` runs when it asks for `--json`, else None: for reporting as JSON an error
    found before `argv` is parsed (or when it cannot be). `--json` counts as argparse would read it:
    before any `--`, written whole or abbreviated so that no other option of the command starts so."""
    words = list(argv)
    if "--" in words:
        words = words[: words.index("--")]
    command = next((word for word in words if not word.startswith("-")), "")  # ppio's own: --version
    options = [
        option
        for action in _subparsers(parser).get(command, parser)._actions  # no public accessor for them
        for option in action.option_strings
    ]
    if command == "" or "--json" not in options:
        return None
    for word in words:
        name = word.split("=", 1)[0] if word.startswith("--") else word  # `--json=1`: argparse's --json
        if len(name) > 2 and [option for option in options if option.startswith(name)] == ["--json"]:
            return command
    return None


def _parsed(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    try:
        args, extras = parser.parse_known_args(argv)
    except _Failed as failed:
        if "arguments are required" in failed.message:
            failed.message += _sheet_hint(argv)
        raise
    if extras:
        name = getattr(args, "command", None) or ""
        command = _subparsers(parser).get(name, parser)
        at = argv.index(name) if name in argv else -1  # options before it are ppio's own, which has none
        early = [word for word in extras if word.startswith("-") and word in argv[:at]]
        hint = f" (options go after the command: ppio {name} ... {' '.join(early)})" if early else ""
        command.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
    return args


def _negative_values_joined(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """`argv` with each `--flag -X` whose flag takes one value and whose X is a number written with a
    minus (`-inf`, `-nan`, `-1e-3`: argparse would take it for a flag) written `--flag=-X` (`-fX`)."""
    command = next((word for word in argv if not word.startswith("-")), "")  # ppio's own: --version
    takes_one = {
        option
        for action in _subparsers(parser).get(command, parser)._actions  # no public accessor for them
        if action.nargs is None and action.option_strings
        for option in action.option_strings
    }
    joined: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return joined + argv[i:]
        following = argv[i + 1] if i + 1 < len(argv) else ""
        if word in takes_one and following.startswith("-") and _is_number(following):
            joined.append(f"{word}={following}" if word.startswith("--") else word + following)  # -n-1
            i += 2
            continue
        joined.append(word)
        i += 1
    return joined


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sheet_hint(argv: list[str]) -> str:
    """What to add to "the following arguments are required: prompt" when a `--sheet X` before it may
    have taken the prompt as its path (`nargs="?"`); "" if none did."""
    for i, word in enumerate(argv[:-1]):
        if word == "--":
            break
        if word == "--sheet" and not argv[i + 1].startswith("-"):
            return (
                f" (--sheet took {argv[i + 1]!r} as its path; write --sheet after the "
                "prompt or the task id, or --sheet=PATH)"
            )
    return ""


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse offers no public accessor for its subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}
