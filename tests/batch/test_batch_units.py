"""The pure parts of a batch: reading lines, `--set`, what a rerun does with a journalled line, what a
failed POST proves; and the sandbox's images-per-minute limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ppio_txt2img import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    RateLimitError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from ppio_txt2img.batch import count_lines, parse_set, read_lines, to_request
from ppio_txt2img.batch._journal import Row
from ppio_txt2img.batch._runner import after_post_error, plan
from ppio_txt2img.sandbox import Sandbox
from ppio_txt2img.sandbox._ratelimit import ImageRateLimiter
from tests.loopback import TLS


def test_lines_are_read_lazily_and_keep_the_files_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"prompt": "a"}\n\n{"prompt": "b", "width": 5000}\nnot json\n{"width": 512}\n')
    lines = read_lines(path, {"width": 256})
    first = next(lines)  # a generator: nothing past line 1 has been parsed yet
    assert first.body is not None
    assert (first.line, first.prompt, first.body["request"]["width"]) == (1, "a", 256)
    rest = list(lines)
    assert [r.line for r in rest] == [3, 4, 5]
    assert rest[0].error_field == "request.width"
    assert "5000" in (rest[0].error or "")
    assert rest[1].error_field == "line"
    assert rest[2].error_field == "request.prompt"
    assert count_lines(path) == 4


def test_a_txt_file_is_one_prompt_per_line(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("a fox\r\na cat\n")
    assert [(r.line, r.prompt) for r in read_lines(path)] == [(1, "a fox"), (2, "a cat")]


def test_a_bare_carriage_return_stays_in_its_line(tmp_path: Path) -> None:
    """Only \n (or \r\n) ends a line, as `count_lines` counts: a bare \r split its line in two prompts,
    shifted every later line's number, and the progress total never added up."""
    path = tmp_path / "in.txt"
    path.write_bytes(b"a fox\rin snow\r\na cat\n")
    assert [(r.line, r.prompt) for r in read_lines(path)] == [(1, "a fox\rin snow"), (2, "a cat")]
    assert count_lines(path) == 2


def test_a_line_nested_too_deeply_to_parse_fails_alone(tmp_path: Path) -> None:
    """10,000 brackets deep: Python's JSON parser raises RecursionError, which ended the whole batch."""
    path = tmp_path / "in.jsonl"
    path.write_text('{"prompt": "a"}\n' + "[" * 10_000 + "]" * 10_000 + '\n{"prompt": "b"}\n')
    lines = list(read_lines(path))
    assert [(r.line, r.error_field) for r in lines] == [(1, None), (2, "line"), (3, None)]
    assert "is nested too deeply to read" in (lines[1].error or "")


def test_a_failed_lines_huge_prompt_is_recorded_cut_short() -> None:
    """A 2 MB prompt (refused: the API takes 1,024 characters) was kept whole in the journal, the
    manifest and the gallery."""
    failed = to_request(1, "x" * 2_000_000)
    assert failed.error_field == "request.prompt"
    assert failed.prompt == "x" * 2048 + "... (2000000 characters)"
    assert len(failed.error or "") < 300


def test_a_journal_from_before_superseded_rows_were_kept_whole_opens_and_takes_over_new_ones(
    tmp_path: Path,
) -> None:
    """An output directory of an earlier version: its `superseded` table gains the columns that hold a
    whole row; its old superseded rows are not taken over (their images were deleted then)."""
    import sqlite3

    from ppio_txt2img.batch._journal import Journal

    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE superseded (line INTEGER NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL, "
            "task_id TEXT, at REAL NOT NULL);"
            "INSERT INTO superseded VALUES (1, 'd1', 'done', 't-old', 0);"
        )
    journal = Journal(path)
    assert journal.take("d1") is None
    journal.failed(2, "d2", "p", "an error", task_id="t2", retry="wait")
    journal.flush()
    row = journal.get(2)
    assert row is not None
    journal.supersede(row, "k2")
    assert journal.get(2) is None  # before any commit, too
    journal.close()
    reopened = Journal(path)
    taken = reopened.take("d2")
    assert taken is not None
    assert (taken[0], taken[1].task_id, taken[1].retry) == ("k2", "t2", "wait")
    reopened.close()


def test_set_values_are_json_when_they_parse() -> None:
    assert parse_set(["width=512", "restore_faces=true", "sampler_name=Euler a", "loras=[]"]) == {
        "width": 512,
        "restore_faces": True,
        "sampler_name": "Euler a",
        "loras": [],
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_set(["width"])


def test_the_hash_follows_the_effective_request() -> None:
    a = to_request(1, {"prompt": "a", "width": 512})
    assert to_request(1, "a", {"width": 512}).digest == a.digest
    assert to_request(1, {"prompt": "a", "width": 768}).digest != a.digest
    assert to_request(1, {"prompt": "a", "nope": 1}).error_field == "nope"


def test_the_hash_is_of_what_the_user_asked_not_of_the_sdks_defaults() -> None:
    # The body carries the SDK's defaults (model, steps, ...); the hash must not, or an SDK upgrade
    # that changed one would make a resumed batch submit every line again.
    request = to_request(1, "a")
    assert request.body is not None
    assert request.body["request"]["steps"] == 20
    assert request.digest == to_request(1, {"prompt": "a"}).digest
    assert request.digest != to_request(1, {"prompt": "a", "steps": 20}).digest


def _row(status: str, task_id: str | None = None, retry: str | None = None) -> Row:
    return Row(1, "d", "p", status, task_id, None, (), None, None, retry)


@pytest.mark.parametrize(
    ("row", "flags", "action"),
    [
        (None, {}, "submit"),
        (_row("done", "t"), {}, "none"),
        (_row("submitted", "t"), {}, "wait"),
        (_row("intent"), {}, "none"),
        (_row("unknown"), {}, "none"),
        (_row("unknown"), {"resubmit_unknown": True}, "submit"),
        (_row("failed", retry="submit"), {}, "submit"),
        (_row("failed", "t", retry="wait"), {}, "wait"),
        (_row("failed", "t"), {}, "none"),
        (_row("failed", "t"), {"retry_failed": True}, "submit"),
    ],
)
def test_what_a_rerun_does_with_a_journalled_line(
    row: Row | None, flags: dict[str, bool], action: str
) -> None:
    options = {"resubmit_unknown": False, "retry_failed": False, **flags}
    assert plan(to_request(1, "p"), row, **options).action == action


def test_a_bad_line_is_failed_whatever_the_journal_says() -> None:
    decision = plan(
        to_request(1, {"prompt": "p", "steps": 0}), None, resubmit_unknown=True, retry_failed=True
    )
    assert decision.action == "none"
    assert decision.result is not None
    assert decision.result.error_field == "request.steps"


def test_what_a_failed_post_proves() -> None:
    def status(cls: type[APIStatusError], code: int, **kw: Any) -> Exception:
        return cls(status_code=code, reason="R", message="m", **kw)

    assert after_post_error(status(RateLimitError, 429)) == "retry"
    assert after_post_error(APIConnectionError("refused")) == "retry"
    assert after_post_error(APIConnectionError("dropped", outcome_unknown=True)) == "unknown"
    assert after_post_error(status(ServerError, 500, outcome_unknown=True)) == "unknown"
    assert after_post_error(status(AuthenticationError, 403)) == "abort"
    assert after_post_error(ValidationError("request.width", 1, "128 to 2048")) == "failed"
    assert after_post_error(WaitTimeoutError(None, "submitting", 5.0)) == "retry"  # never connected
    assert after_post_error(WaitTimeoutError(None, "submitting", 5.0, outcome_unknown=True)) == "unknown"
    assert after_post_error(RuntimeError("?")) == "unknown"


def test_the_limiter_counts_images_over_a_sliding_window() -> None:
    limiter = ImageRateLimiter(10, minute=60)
    assert limiter.acquire(8, 0.0) is None
    assert limiter.acquire(2, 30.0) is None
    assert limiter.acquire(1, 31.0) == pytest.approx(29.0)  # until the 8 of t=0 leave the window
    assert limiter.acquire(8, 60.0) is None
    assert ImageRateLimiter(None).acquire(1000, 0.0) is None


def test_the_sandbox_answers_429_past_its_ipm_and_creates_no_task() -> None:
    sandbox = Sandbox(ipm=3, speed=50)
    body = {
        "request": {
            "model_name": "sd_xl_base_1.0.safetensors",
            "prompt": "x",
            "width": 128,
            "height": 128,
            "image_num": 2,
            "steps": 1,
            "guidance_scale": 7.5,
            "sampler_name": "Euler a",
        }
    }
    with (
        sandbox.serve() as url,
        httpx.Client(base_url=url, headers={"Authorization": "Bearer k"}, verify=TLS) as http,
    ):
        assert http.post("/v3/async/txt2img", json=body).status_code == 200
        refused = http.post("/v3/async/txt2img", json=body)  # 2 + 2 > 3
    assert refused.status_code == 429
    assert json.loads(refused.content)["reason"] == "RATE_LIMIT_EXCEEDED"
    assert int(refused.headers["Retry-After"]) >= 1
    assert len(sandbox.tasks) == 1
