"""The fault matrix as data: one `Case` per way a server (or a key) can misbehave, what the SDK is to do
about it, and the outcome the user gets. `test_fault_matrix.py` runs every case sync and async against
the raw servers of `raw_server.py`; `scripts/fault_table.py` renders the same records as the README's
table, so the table cannot say anything the tests do not check.

`item` is the item of the behaviour contract (issue 8) a case pins down; controls, faults the SDK must
ride out, carry the item of the area they exercise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ppio_txt2img as ppio
from tests.faults.raw_server import DELETE, Fault, Redirect, error, html, task_id_for

__all__ = [
    "CASES",
    "KEY",
    "NOT_NONE",
    "SECRET",
    "TASK",
    "Call",
    "Case",
    "Expect",
    "outcome_text",
]

#: The API key of every case: recognisable, so that a leak anywhere is easy to find.
KEY = "sk-live-SECRET-9f8e7d6c5b4a"
#: What must never show outside requests to the API: every key variant below contains it.
SECRET = "SECRET-9f8e7d6c5b4a"
#: The id of the first task the kit creates (every case makes at most one that counts).
TASK = task_id_for(1)
#: In `Expect.attrs`: any value but None.
#: The matrix lowers the SDK's cap on model-list pages (`MAX_MODEL_PAGES`, 1,000) to this, as it
#: shortens the SDK's sleeps: an endless list stops the same way after a tenth of the requests.
MODEL_PAGES = 100
NOT_NONE: Any = type("NotNone", (), {"__repr__": lambda self: "<not None>"})()

Method = Literal["txt2img", "submit", "get_task", "wait", "models"]


@dataclass(frozen=True)
class Call:
    """What the case calls, on a client made with `api_key`, `timeout` and (when given) the user's
    own httpx client built with `http_client` keyword arguments.

    `get_task` and `wait` look at a task the kit holds already (made with `image_num` images of
    128x128, no POST); `models` lists every model with the client's `timeout`.
    """

    method: Method = "txt2img"
    timeout: float = 8.0
    image_num: int = 2
    options: Mapping[str, Any] = field(default_factory=dict)
    api_key: str = KEY
    http_client: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Expect:
    """The outcome. With `error` None: a result (`count` images, or models); else that exception with
    `attrs` (dotted paths work on results too: `images.0.size`) and, for an `ImageError`, `count`
    images in `.images`. `may_raise`: a result, or else this error (where the contract allows either).
    """

    error: type[Exception] | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    count: int | None = None
    says: tuple[str, ...] = ()
    never_says: tuple[str, ...] = ()
    #: POSTs the servers received (None: 1 for txt2img/submit, else 0). Never a resend that may bill twice.
    posts: int | None = None
    #: Per route (`submit`, `result`, `models`, `image`, `image/1`, `other`: anything on the other host,
    #: `all`): the least and most requests the servers may see.
    requests: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: The `Authorization` header every API request must carry (e.g. the key, stripped).
    sent_key: str | None = None
    may_raise: type[Exception] | None = None
    #: The outcome in words for the README's table, when the generated text would not say it well.
    text: str | None = None


@dataclass(frozen=True)
class Case:
    name: str
    item: int
    #: What the server (or the caller) does, in words, for the README's table.
    fault: str
    #: What the SDK does about it, in words.
    does: str
    server: Mapping[str, Sequence[Fault]]
    call: Call
    expect: Expect
    #: `FaultKit` options (queued polls, endless bounds, ...).
    kit: Mapping[str, Any] = field(default_factory=dict)

    @property
    def posts(self) -> int:
        if self.expect.posts is not None:
            return self.expect.posts
        return 1 if self.call.method in ("txt2img", "submit") else 0


def _value(value: Any) -> str:
    return "the task id" if value == TASK else repr(value)


def outcome_text(case: Case) -> str:
    """The outcome in words: `WaitTimeoutError (outcome_unknown=True, task_id=None); 1 POST`."""
    expect = case.expect
    if expect.text is not None:
        return expect.text
    shown = {k: v for k, v in expect.attrs.items() if v is not NOT_NONE}
    attrs = ", ".join(f"`{k}={_value(v)}`" for k, v in shown.items())
    if expect.error is None:
        what = {"models": "models", "get_task": "", "submit": ""}.get(case.call.method, "images")
        if expect.count == 1 and what:
            what = what.rstrip("s")
        text = f"{expect.count} {what}".strip() if expect.count is not None else "the result"
        if case.call.method == "get_task":
            text = "a `Task`"
        if case.call.method == "submit":
            text = "a `SubmittedTask`"
        if attrs:
            text += f" ({attrs})"
        if expect.may_raise is not None:
            text += f", or `{expect.may_raise.__name__}`"
    else:
        text = f"`{expect.error.__name__}`"
        if expect.error is ppio.ImageError and expect.count is not None:
            attrs = ", ".join(filter(None, [attrs, f"`len(images)={expect.count}`"]))
        if attrs:
            text += f" ({attrs})"
        if expect.says:
            text += " saying " + ", ".join(f"“{s}”" for s in expect.says)
    posts = case.posts
    if case.call.method in ("txt2img", "submit") or posts:
        text += f"; {posts} POST" + ("s" if posts != 1 else "")
    return text


# --------------------------------------------------------------------------------------- helpers
def _json_error(status: int, reason: str, encoding: Literal["gzip", "deflate"] | None = None) -> Fault:
    fault = error(status, reason=reason)
    return Fault(status=status, body=fault.body, encoding=encoding)


OK = Fault()
HTML_200 = Fault(body=b"<html><body>Service is warming up</body></html>", content_type="text/html")
RETRY_NOW = (("Retry-After", "0"),)
T = TASK

_UNPARSABLE = ppio.APIResponseValidationError
_POST_UNKNOWN = {"task_id": None, "outcome_unknown": True}
_POST_REDIRECTS: tuple[tuple[int, Literal["same", "other"]], ...] = (
    (301, "other"),
    (302, "same"),
    (307, "same"),
    (308, "other"),
)


def _submit_answer(name: str, value: Any, method: Method = "submit") -> Case:
    return Case(
        name=f"create-task-id-{name}",
        item=4,
        fault=f"the create call answers 200 with `task_id` {name}",
        does="refuses the answer; never resends the POST",
        server={"submit": [Fault(set_fields={"task_id": value})]},
        call=Call(method),
        expect=Expect(_UNPARSABLE, {**_POST_UNKNOWN, "status_code": 200}),
    )


# ------------------------------------------------------------------------------------------ cases
CASES: tuple[Case, ...] = (
    # --- controls: a plain server, and the faults every client must ride out --------------------
    Case(
        "plain",
        0,
        "nothing: a well-behaved server",
        "submits once, polls, downloads and decodes every image",
        {},
        Call(),
        Expect(count=2),
    ),
    Case(
        "plain-wait",
        0,
        "nothing (`wait` on a submitted task)",
        "polls, downloads",
        {},
        Call("wait"),
        Expect(count=2),
    ),
    Case(
        "plain-get-task",
        0,
        "nothing (`get_task`)",
        "one look",
        {},
        Call("get_task"),
        Expect(attrs={"id": T, "status": "TASK_STATUS_QUEUED", "eta": 0.2}),
    ),
    Case(
        "plain-models",
        0,
        "nothing: three model pages",
        "follows the cursor",
        {},
        Call("models"),
        Expect(count=6),
    ),
    Case(
        "post-429-then-ok",
        0,
        "the create call answers 429 twice (`Retry-After: 0`), then succeeds",
        "resends the POST: a 429 created nothing",
        {"submit": [Fault(status=429, headers=RETRY_NOW), Fault(status=429, headers=RETRY_NOW), OK]},
        Call(),
        Expect(count=2, posts=3),
    ),
    Case(
        "post-503",
        0,
        "the create call answers 503",
        "does not resend (a task may exist)",
        {"submit": [_json_error(503, "CREATE_TASK_FAILED")]},
        Call(),
        Expect(
            ppio.ServerError,
            {"status_code": 503, "reason": "CREATE_TASK_FAILED", "outcome_unknown": True, "task_id": None},
        ),
    ),
    Case(
        "post-html-502",
        0,
        "the create call answers a gateway's HTML 502 page",
        "does not resend",
        {"submit": [html(502)]},
        Call(),
        Expect(ppio.ServerError, {"status_code": 502, "outcome_unknown": True, "task_id": None}),
    ),
    Case(
        "post-dropped",
        0,
        "the create call's connection closes without an answer (the task was created)",
        "does not resend",
        {"submit": [Fault(close=True)]},
        Call(),
        Expect(ppio.APIConnectionError, {"outcome_unknown": True, "task_id": None}),
    ),
    Case(
        "post-cut",
        0,
        "the create call's answer stops half-way (connection closed)",
        "does not resend",
        {"submit": [Fault(cut=5)]},
        Call(),
        Expect(ppio.APIConnectionError, {"outcome_unknown": True, "task_id": None}),
    ),
    Case(
        "post-slow",
        3,
        "the create call is answered after 10 s",
        "gives up at the deadline",
        {"submit": [Fault(delay=10)]},
        Call(timeout=2),
        Expect(ppio.WaitTimeoutError, _POST_UNKNOWN),
    ),
    Case(
        "poll-503-then-ok",
        0,
        "the task result answers 503 twice, then succeeds",
        "retries the GET",
        {"result": [error(503, retry_after="0"), error(503, retry_after="0"), OK]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "poll-html-502-then-ok",
        0,
        "the task result answers an HTML 502 page twice, then succeeds",
        "retries the GET",
        {"result": [html(502), html(502), OK]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "poll-429-then-ok",
        0,
        "the task result answers 429 (`Retry-After: 0`), then succeeds",
        "retries the GET",
        {"result": [error(429, retry_after="0"), OK]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "poll-dropped-then-ok",
        0,
        "a poll's connection closes without an answer, then all is well",
        "retries the GET",
        {"result": [Fault(close=True), OK]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "image-dropped-then-ok",
        7,
        "image 1's connection closes without an answer, then all is well",
        "downloads it again",
        {"image/1": [Fault(close=True), OK]},
        Call(),
        Expect(count=2, requests={"image/1": (2, 2)}),
    ),
    Case(
        "image-cut-then-ok",
        7,
        "image 1's body stops half-way (connection closed), then all is well",
        "downloads it again",
        {"image/1": [Fault(cut=20), OK]},
        Call(),
        Expect(count=2, requests={"image/1": (2, 2)}),
    ),
    Case(
        "image-slow",
        3,
        "image 1 is answered after 10 s",
        "gives up at the deadline",
        {"image/1": [Fault(delay=10)]},
        Call(timeout=3),
        Expect(ppio.WaitTimeoutError, {"task_id": T}),
    ),
    # --- 1. compressed bodies -------------------------------------------------------------------
    Case(
        "gzip-create",
        1,
        "the create call's answer is gzip-compressed",
        "decodes it once",
        {"submit": [Fault(encoding="gzip")]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "gzip-poll",
        1,
        "the task result is gzip-compressed",
        "decodes it once",
        {"result": [Fault(encoding="gzip")]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "gzip-everywhere",
        1,
        "every answer (create, task result, images) is gzip-compressed",
        "decodes each once",
        {
            "submit": [Fault(encoding="gzip")],
            "result": [Fault(encoding="gzip")],
            "image": [Fault(encoding="gzip")],
        },
        Call(),
        Expect(count=2),
    ),
    Case(
        "deflate-create",
        1,
        "the create call's answer is deflate-compressed",
        "decodes it once",
        {"submit": [Fault(encoding="deflate")]},
        Call("submit"),
        Expect(attrs={"id": T}),
    ),
    Case(
        "deflate-get-task",
        1,
        "the task result is deflate-compressed",
        "decodes it once",
        {"result": [Fault(encoding="deflate")]},
        Call("get_task"),
        Expect(attrs={"id": T, "status": "TASK_STATUS_QUEUED"}),
    ),
    Case(
        "gzip-models",
        1,
        "every model page is gzip-compressed",
        "decodes each once",
        {"models": [Fault(encoding="gzip")]},
        Call("models"),
        Expect(count=6),
    ),
    Case(
        "gzip-error-body",
        1,
        "the create call answers 503 with a gzip-compressed JSON error body",
        "reads the API's reason from it; does not resend",
        {"submit": [_json_error(503, "CREATE_TASK_FAILED", encoding="gzip")]},
        Call(),
        Expect(
            ppio.ServerError, {"status_code": 503, "reason": "CREATE_TASK_FAILED", "outcome_unknown": True}
        ),
    ),
    Case(
        "gzip-stacked-poll",
        1,
        "the task result is gzip-compressed twice (`Content-Encoding: gzip, gzip`)",
        "undoes both, on every transport",
        {"result": [Fault(encoding="gzip, gzip")]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "gzip-members-poll",
        1,
        "the task result is gzip in two members (RFC 1952 allows several)",
        "reads both members, on every transport",
        {"result": [Fault(encoding="gzip-members")]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "gzip-junk-poll",
        1,
        "the task result is gzip followed by bytes that start no member",
        "reads the member, drops the rest, on every transport",
        {"result": [Fault(encoding="gzip-junk")]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "raw-deflate-image",
        1,
        "every image is `deflate` sent as a raw stream (without zlib's header, as some servers do)",
        "reads it as browsers do",
        {"image": [Fault(encoding="raw-deflate")]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "not-gzip-create",
        1,
        "the create call's answer says `gzip` but is not",
        "a typed error: the task may exist (not resent)",
        {"submit": [Fault(encoding="not-gzip")]},
        Call(),
        Expect(ppio.APIConnectionError, {"outcome_unknown": True}),
    ),
    Case(
        "not-gzip-get-task",
        1,
        "the task result says `gzip` but is not",
        "sends the poll again; then a typed error naming the task",
        {"result": [Fault(encoding="not-gzip")]},
        Call("get_task"),
        Expect(
            ppio.APIConnectionError, {"task_id": T, "outcome_unknown": False}, requests={"result": (2, 4)}
        ),
    ),
    Case(
        "br-label-image",
        1,
        "every image comes labelled `br` (a coding the SDK did not ask for) but is not encoded",
        "passes the label over, as httpx and aiohttp do: the images",
        {"image": [Fault(encoding="br")]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "utf-8-label-create",
        1,
        "the create call's answer is labelled `Content-Encoding: utf-8` (a server's mistake), not encoded",
        "passes the label over and reads the task id (refusing it would lose a created task)",
        {"submit": [Fault(encoding="utf-8")]},
        Call("submit"),
        Expect(attrs={"id": T}),
    ),
    Case(
        "poll-429-retry-after-past-the-deadline",
        7,
        "every task result answers 429 with `Retry-After: 20`, past the call's 8 s",
        "no poll before the time the API gave: `WaitTimeoutError` at once, saying why (`early`)",
        {"result": [Fault(status=429, headers=(("Retry-After", "20"),))]},
        Call(),
        Expect(
            ppio.WaitTimeoutError,
            {"task_id": T, "early": "the API asked for no request in the next 20 s"},
            requests={"result": (1, 1)},
        ),
    ),
    Case(
        "create-task-id-unusable",
        4,
        "the create call answers a `task_id` with a space in it (no task-result request could name it)",
        "an `APIResponseValidationError` naming the bound; the task may exist (not resent)",
        {"submit": [Fault(set_fields={"task_id": "a b"})]},
        Call(),
        Expect(ppio.APIResponseValidationError, {"outcome_unknown": True, "status_code": 200}),
    ),
    Case(
        "create-200-error-body",
        4,
        "the create call answers 200 with the API's error body (`ILLEGAL_PROMPT`), as a gateway may",
        "an `APIResponseValidationError` carrying the API's reason; the task may exist (not resent)",
        {"submit": [Fault(status=200, body=error(400, reason="ILLEGAL_PROMPT").body)]},
        Call(),
        Expect(ppio.APIResponseValidationError, {"reason": "ILLEGAL_PROMPT", "outcome_unknown": True}),
    ),
    Case(
        "create-v2-envelope",
        4,
        "the create call answers in the API's old V2 envelope (`{code: 0, msg, data: {task_id}}`)",
        "an `APIResponseValidationError` that names the task it created (to wait for; not resent)",
        {"submit": [Fault(body=json.dumps({"code": 0, "msg": "", "data": {"task_id": T}}).encode())]},
        Call(),
        Expect(ppio.APIResponseValidationError, {"task_id": T, "outcome_unknown": False, "status_code": 200}),
    ),
    Case(
        "create-large-head",
        1,
        "the create call's answer has a 12 KB header line and 150 header lines (a big security policy)",
        "reads it on every transport (as httpx does, up to 16 KiB of head): the task id, not "
        '"outcome unknown"',
        {
            "submit": [
                Fault(
                    headers=(
                        ("Content-Security-Policy", "default-src 'self' " + "a" * 12_000),
                        *((f"X-Trace-{i}", "v") for i in range(150)),
                    )
                )
            ]
        },
        Call("submit"),
        Expect(attrs={"id": T}),
    ),
    Case(
        "image-url-unparsable",
        1,
        "the task result lists an image URL that does not parse (`http://[::1/0.png`)",
        "an `ImageError` for that image, the other kept, the same on every transport",
        {"result": [Fault(set_fields={"images[0].image_url": "http://[::1/0.png"})]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 0}, count=1),
    ),
    Case(
        "image-url-bad-idna-host",
        1,
        "the task result lists an image URL whose host fails IDNA decoding (`xn--bcher-kva.example..`)",
        "an `ImageError` for that image, the other kept, the same on every transport",
        {"result": [Fault(set_fields={"images[0].image_url": "http://xn--bcher-kva.example../0.png"})]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 0}, count=1),
    ),
    Case(
        "image-url-bad-idna-label",
        1,
        "the task result lists an image URL whose host looks plain but is no IDNA name (`xn--zz.example`)",
        "an `ImageError` for that image, the other kept, the same on every transport",
        {"result": [Fault(set_fields={"images[0].image_url": "http://xn--zz.example/0.png"})]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 0}, count=1),
    ),
    Case(
        "image-url-port-out-of-range",
        1,
        "the task result lists an image URL with port 99999",
        "an `ImageError` for that image, the other kept, the same on every transport",
        {"result": [Fault(set_fields={"images[1].image_url": "http://127.0.0.1:99999/1.png"})]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 1}, count=1),
    ),
    Case(
        "poll-302-unparsable-location",
        1,
        "the task result answers 302 with a `Location` that does not parse",
        "sends the poll again (httpx's protocol error, on every transport); then a typed error",
        {"result": [Fault(status=302, body=b"", headers=(("Location", "http://[::1/x"),))]},
        Call("get_task"),
        Expect(ppio.APIConnectionError, {"task_id": T}, requests={"result": (3, 3)}),
    ),
    Case(
        "image-302-port-out-of-range",
        1,
        "every image answers 302 to a URL with port 99999",
        "not followed: an `ImageError` saying why",
        {"image": [Fault(status=302, body=b"", headers=(("Location", "http://127.0.0.1:99999/x.png"),))]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "status_code": 302}),
    ),
    # --- 2. the API key -------------------------------------------------------------------------
    Case(
        "key-trailing-newline",
        2,
        "the API key ends with a newline (read from a file)",
        "strips it and sends `Bearer <key>`",
        {},
        Call(api_key=KEY + "\n"),
        Expect(count=2, sent_key=f"Bearer {KEY}"),
    ),
    Case(
        "key-surrounding-space",
        2,
        "the API key has spaces and a tab around it",
        "strips them",
        {},
        Call(api_key=f" \t{KEY}  "),
        Expect(count=2, sent_key=f"Bearer {KEY}"),
    ),
    *(
        Case(
            f"key-{name}",
            2,
            f"the API key contains {what}",
            "refuses it when the client is made; never shows it",
            {},
            Call(api_key=key),
            Expect(
                ppio.ValidationError,
                {"field": "api_key", "value": "<redacted>"},
                posts=0,
                requests={"all": (0, 0)},
            ),
        )
        for name, what, key in (
            ("crlf", "CR LF and a header (`\\r\\nX-Injected: 1`)", KEY + "\r\nX-Injected: 1"),
            ("inner-lf", "a line feed inside", KEY[:8] + "\n" + KEY[8:]),
            ("nul", "a NUL byte", KEY + "\x00"),
            ("del", "a DEL character", KEY + "\x7f"),
            ("non-ascii", "a non-ASCII letter (`é`)", KEY + "é"),
        )
    ),
    # --- 3. one deadline, bodies included; a size cap on API bodies -----------------------------
    Case(
        "drip-create",
        3,
        "the create call's answer drips one byte every 0.1 s",
        "stops reading at the deadline",
        {"submit": [Fault(drip=0.1, drip_for=4.5)]},
        Call(timeout=2),
        Expect(ppio.WaitTimeoutError, _POST_UNKNOWN),
    ),
    Case(
        "drip-poll",
        3,
        "the task result drips one byte every 0.1 s",
        "stops reading at the deadline",
        {"result": [Fault(drip=0.1, drip_for=4.5)]},
        Call(timeout=2),
        Expect(ppio.WaitTimeoutError, {"task_id": T}),
    ),
    Case(
        "drip-image",
        3,
        "image 1 drips one byte every 0.1 s",
        "stops reading at the deadline",
        {"image/1": [Fault(drip=0.1, drip_for=5)]},
        Call(timeout=3),
        Expect(ppio.WaitTimeoutError, {"task_id": T}),
    ),
    Case(
        "drip-models",
        3,
        "the first model page drips one byte every 0.1 s",
        "stops reading at the client's timeout",
        {"models": [Fault(drip=0.1, drip_for=4.5), OK]},
        Call("models", timeout=2),
        Expect(
            ppio.WaitTimeoutError, {"task_id": None}, says=("listing models",), never_says=("submitting",)
        ),
    ),
    Case(
        "huge-create",
        3,
        "the create call answers 200 with a 20 MB body",
        "stops reading at 8 MiB; never resends the POST",
        {"submit": [Fault(pad_to=20_000_000)]},
        Call(),
        Expect(_UNPARSABLE, {**_POST_UNKNOWN, "status_code": 200}),
    ),
    Case(
        "huge-poll",
        3,
        "every task result is a 20 MB body",
        "counts each as unparsable; gives up after 3",
        {"result": [Fault(pad_to=20_000_000)]},
        Call(timeout=15),
        Expect(_UNPARSABLE, {"task_id": T}),
    ),
    Case(
        "huge-get-task",
        3,
        "the task result is a 20 MB body",
        "stops reading at 8 MiB",
        {"result": [Fault(pad_to=20_000_000)]},
        Call("get_task"),
        Expect(_UNPARSABLE, {"task_id": T, "status_code": 200}),
    ),
    Case(
        "big-but-allowed-poll",
        3,
        "the task result is a 7 MiB body (under the cap)",
        "reads it",
        {"result": [Fault(pad_to=7 * 1024 * 1024)]},
        Call("get_task"),
        Expect(attrs={"id": T}),
    ),
    # --- 4. response field types ----------------------------------------------------------------
    Case(
        "eta-numeric-string",
        4,
        'the task result sends `eta: "5"`',
        "reads 5.0",
        {"result": [Fault(set_fields={"task.eta": "5"})]},
        Call("get_task"),
        Expect(attrs={"eta": 5.0}),
    ),
    Case(
        "progress-numeric-string",
        4,
        'the task result sends `progress_percent: "50"`',
        "reads 50.0",
        {"result": [Fault(set_fields={"task.progress_percent": "50"})]},
        Call("get_task"),
        Expect(attrs={"progress": 50.0}),
    ),
    Case(
        "ttl-and-seed-strings",
        4,
        'a finished task sends `image_url_ttl: "7200"` and `seed: "123"`',
        "reads them as numbers",
        {"result": [Fault(set_fields={"images[*].image_url_ttl": "7200", "extra.seed": "123"})]},
        Call("get_task"),
        Expect(attrs={"seed": 123, "images.0.expires_at": NOT_NONE}),
        kit={"queued_polls": 0},
    ),
    Case(
        "ttl-huge",
        4,
        "a finished task sends `image_url_ttl: 10**30`",
        "treats the expiry as unknown",
        {"result": [Fault(set_fields={"images[*].image_url_ttl": 10**30})]},
        Call(),
        Expect(count=2, attrs={"images.0.expires_at": None, "images.1.expires_at": None}),
    ),
    *(
        Case(
            f"get-task-{name}",
            4,
            f"the task result sends `{text}`",
            "refuses the answer, with the task id",
            {"result": [Fault(set_fields={path: value})]},
            Call("get_task"),
            Expect(_UNPARSABLE, {"task_id": T, "status_code": 200}),
        )
        for name, text, path, value in (
            ("eta-soon", 'eta: "soon"', "task.eta", "soon"),
            ("progress-percent-sign", 'progress_percent: "50%"', "task.progress_percent", "50%"),
            ("status-int", "status: 42", "task.status", 42),
        )
    ),
    Case(
        "poll-eta-null",
        4,
        "every task result sends `eta: null` and `progress_percent: null`",
        "reads them as absent (no estimate), as it reads any optional field sent as null",
        {"result": [Fault(set_fields={"task.eta": None, "task.progress_percent": None})]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "image-url-int",
        4,
        "a finished task sends `image_url: 123`",
        "refuses the answer (3 times), with the task id",
        {"result": [Fault(set_fields={"images[*].image_url": 123})]},
        Call(timeout=6),
        Expect(_UNPARSABLE, {"task_id": T}),
    ),
    _submit_answer("null", None),
    _submit_answer("123", 123, "txt2img"),
    _submit_answer('""', "", "txt2img"),
    _submit_answer("list", [TASK]),
    _submit_answer("missing", DELETE, "txt2img"),
    # --- 5. missing images ----------------------------------------------------------------------
    Case(
        "one-of-two-images",
        5,
        "the task SUCCEEDs listing 1 image when 2 were asked",
        "downloads the one, then raises",
        {"result": [Fault(images=1)]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 1}, count=1, says=("1 of 2 images",)),
    ),
    Case(
        "zero-of-two-images",
        5,
        "the task SUCCEEDs listing no image when 2 were asked",
        "raises",
        {"result": [Fault(images=0)]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 0}, count=0, says=("0 of 2 images",)),
    ),
    Case(
        "wait-zero-images",
        5,
        "`wait`: the task SUCCEEDs listing no image",
        "raises",
        {"result": [Fault(images=0)]},
        Call("wait"),
        Expect(ppio.ImageError, {"task_id": T, "index": 0}, count=0),
    ),
    Case(
        "wait-fewer-images",
        5,
        "`wait`: the task SUCCEEDs listing 1 of its 2 images (image_num is unknown to `wait`)",
        "returns the one listed",
        {"result": [Fault(images=1)]},
        Call("wait"),
        Expect(count=1),
    ),
    # --- 6. task results that never parse -------------------------------------------------------
    Case(
        "poll-eta-soon",
        6,
        'every task result sends `eta: "soon"`',
        "gives up after 3 unparsable answers in a row, long before the deadline",
        {"result": [Fault(set_fields={"task.eta": "soon"})]},
        Call(timeout=6),
        Expect(_UNPARSABLE, {"task_id": T}),
    ),
    Case(
        "poll-progress-percent-sign",
        6,
        'every task result sends `progress_percent: "50%"`',
        "gives up after 3 unparsable answers in a row",
        {"result": [Fault(set_fields={"task.progress_percent": "50%"})]},
        Call(timeout=6),
        Expect(_UNPARSABLE, {"task_id": T}),
    ),
    Case(
        "poll-html-200",
        6,
        "every task result is an HTML page with status 200",
        "gives up after 3 unparsable answers in a row",
        {"result": [HTML_200]},
        Call(timeout=6),
        Expect(_UNPARSABLE, {"task_id": T, "status_code": 200}),
    ),
    Case(
        "poll-truncated-json",
        6,
        "every task result is cut to 40 bytes (invalid JSON, honest length)",
        "gives up after 3 unparsable answers in a row",
        {"result": [Fault(truncate=40)]},
        Call(timeout=6),
        Expect(_UNPARSABLE, {"task_id": T}),
    ),
    Case(
        "poll-unparsable-with-good-between",
        6,
        "task results: bad, bad, good (QUEUED), bad, bad, good (SUCCEED)",
        "a good answer resets the count; finishes",
        {"result": [HTML_200, HTML_200, OK, HTML_200, HTML_200, OK]},
        Call(timeout=15),
        Expect(count=2, requests={"result": (6, 6)}),
    ),
    Case(
        "get-task-html-200",
        6,
        "the task result is an HTML page with status 200 (`get_task`)",
        "refuses the answer, with the task id",
        {"result": [HTML_200]},
        Call("get_task"),
        Expect(_UNPARSABLE, {"task_id": T, "status_code": 200}),
    ),
    # --- 7. image downloads ---------------------------------------------------------------------
    Case(
        "image-503-x3-then-ok",
        7,
        "image 1 answers 503 three times (`Retry-After: 0`), then succeeds",
        "retries while the deadline allows",
        {"image/1": [error(503, retry_after="0")] * 3 + [OK]},
        Call(),
        Expect(count=2, requests={"image/1": (4, 4)}),
    ),
    Case(
        "image-429-x3-then-ok",
        7,
        "image 1 answers 429 three times (`Retry-After: 0`), then succeeds",
        "retries while the deadline allows",
        {"image/1": [error(429, retry_after="0")] * 3 + [OK]},
        Call(),
        Expect(count=2, requests={"image/1": (4, 4)}),
    ),
    Case(
        "image-truncated-then-ok",
        7,
        "image 1 comes truncated (100 bytes, honest length) once, then whole",
        "downloads it again",
        {"image/1": [Fault(truncate=100), OK]},
        Call(),
        Expect(count=2, requests={"image/1": (2, 2)}),
    ),
    Case(
        "image-garbage-then-ok",
        7,
        "image 1 is a PNG signature followed by garbage once, then a real image",
        "downloads it again",
        {"image/1": [Fault(body=b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, content_type="image/png"), OK]},
        Call(),
        Expect(count=2, requests={"image/1": (2, 2)}),
    ),
    Case(
        "image-always-truncated",
        7,
        "image 1 always comes truncated",
        "retries until the deadline, then raises with the images that arrived",
        {"image/1": [Fault(truncate=100)]},
        Call(timeout=4),
        Expect(ppio.ImageError, {"task_id": T, "index": 1}, count=1, requests={"image/1": (2, 10_000)}),
    ),
    Case(
        "image-always-html-502",
        7,
        "image 1 always answers a CDN's HTML 502 page",
        "retries until the deadline, then raises with the images that arrived",
        {"image/1": [html(502)]},
        Call(timeout=4),
        Expect(
            ppio.ImageError,
            {"task_id": T, "index": 1, "status_code": 502},
            count=1,
            requests={"image/1": (2, 10_000)},
        ),
    ),
    Case(
        "image-404",
        7,
        "image 0 answers 404 (even after the URL is refreshed)",
        "raises with the images that arrived",
        {"image/0": [Fault(status=404, body=b"<Error>NoSuchKey</Error>", content_type="application/xml")]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 0, "status_code": 404}, count=1),
    ),
    # --- 8. redirects ---------------------------------------------------------------------------
    *(
        Case(
            f"post-{status}-{to}",
            8,
            f"the create call answers {status} to {'the same host' if to == 'same' else 'another host'}",
            "never follows a redirect of the POST",
            {"submit": [Fault(redirect=Redirect(status, to))]},
            Call(),
            Expect(
                ppio.APIStatusError,
                {"status_code": status, "task_id": None},
                says=("/v3/async/txt2img?_hop=1",) if to == "same" else ("127.0.0.2",),
                requests={"other": (0, 0)},
            ),
        )
        for status, to in _POST_REDIRECTS
    ),
    Case(
        "post-307-loop",
        8,
        "the create call answers 307 in a loop",
        "never follows a redirect of the POST",
        {"submit": [Fault(redirect=Redirect(307, "loop"))]},
        Call(),
        Expect(ppio.APIStatusError, {"status_code": 307, "task_id": None}),
    ),
    Case(
        "post-307-users-client-follows",
        8,
        "the create call answers 307 to another host; the user's httpx client has `follow_redirects=True`",
        "never follows a redirect of the POST",
        {"submit": [Fault(redirect=Redirect(307, "other"))]},
        Call(http_client={"follow_redirects": True}),
        Expect(ppio.APIStatusError, {"status_code": 307, "task_id": None}, requests={"other": (0, 0)}),
    ),
    *(
        Case(
            f"poll-{status}-same",
            8,
            f"the task result answers {status} to the same host",
            "follows it, with the key (same origin)",
            {"result": [Fault(redirect=Redirect(status, "same"))]},
            Call(),
            Expect(count=2),
        )
        for status in (301, 302, 307, 308)
    ),
    Case(
        "poll-5-redirects",
        8,
        "the task result redirects 5 times on the same host",
        "follows up to 5 redirects",
        {"result": [Fault(redirect=Redirect(302, "same", hops=5))]},
        Call("get_task"),
        Expect(attrs={"id": T}, requests={"result": (6, 6)}),
    ),
    Case(
        "poll-6-redirects",
        8,
        "the task result redirects 6 times on the same host",
        "stops after 5",
        {"result": [Fault(redirect=Redirect(302, "same", hops=6))]},
        Call("get_task"),
        Expect(ppio.APIStatusError, {"status_code": 302, "task_id": T}, requests={"result": (1, 6)}),
    ),
    Case(
        "poll-308-other",
        8,
        "the task result answers 308 to another host",
        "follows it without the key",
        {"result": [Fault(redirect=Redirect(308, "other"))]},
        Call(),
        Expect(count=2, requests={"other": (2, 10)}),
    ),
    Case(
        "poll-307-other-users-client-follows",
        8,
        "the task result answers 307 to another host; the user's httpx client has `follow_redirects=True`",
        "follows it itself, without the key",
        {"result": [Fault(redirect=Redirect(307, "other"))]},
        Call(http_client={"follow_redirects": True}),
        Expect(count=2, requests={"other": (2, 10)}),
    ),
    Case(
        "poll-302-other-credentials-in-any-case",
        8,
        "the task result answers 302 to another host; `extra_headers` carry `authorization` and `cookie` "
        "in lower case",
        "follows it without either (HTTP's names are case-insensitive), and sends the API one key",
        {"result": [Fault(redirect=Redirect(302, "other"))]},
        Call(options={"extra_headers": {"authorization": f"Bearer {KEY}", "cookie": f"session={KEY}"}}),
        Expect(count=2, requests={"other": (2, 10)}, sent_key=f"Bearer {KEY}"),
    ),
    Case(
        "poll-302-other-callers-client-credentials",
        8,
        "the task result answers 302 to another host; the user's httpx client carries an `Authorization` "
        "header of its own",
        "follows it without the key: the client's own headers are dropped too, not only the SDK's",
        {"result": [Fault(redirect=Redirect(302, "other"))]},
        Call(http_client={"headers": {"Authorization": f"Bearer {KEY}"}, "cookies": {"session": "c"}}),
        Expect(count=2, requests={"other": (2, 10)}),
    ),
    Case(
        "poll-loop",
        8,
        "the task result redirects in a loop",
        "stops after 5 redirects",
        {"result": [Fault(redirect=Redirect(302, "loop"))]},
        Call("get_task"),
        Expect(ppio.APIStatusError, {"status_code": 302, "task_id": T}, requests={"result": (1, 6)}),
    ),
    Case(
        "poll-loop-txt2img",
        8,
        "every task result redirects in a loop (`txt2img`)",
        "stops after 5 redirects",
        {"result": [Fault(redirect=Redirect(302, "loop"))]},
        Call(),
        Expect(ppio.APIStatusError, {"status_code": 302, "task_id": T}),
    ),
    Case(
        "models-301-same",
        8,
        "every model page answers 301 to the same host",
        "follows it",
        {"models": [Fault(redirect=Redirect(301, "same"))]},
        Call("models"),
        Expect(count=6),
    ),
    Case(
        "models-loop",
        8,
        "the model list redirects in a loop",
        "stops after 5 redirects",
        {"models": [Fault(redirect=Redirect(301, "loop"))]},
        Call("models"),
        Expect(ppio.APIStatusError, {"status_code": 301}, requests={"models": (1, 6)}),
    ),
    Case(
        "image-302-same",
        8,
        "each image answers 302 to another path of its host",
        "follows it",
        {"image": [Fault(redirect=Redirect(302, "same"))]},
        Call(),
        Expect(count=2),
    ),
    Case(
        "image-307-other",
        8,
        "each image answers 307 to another host",
        "follows it (images never get the key)",
        {"image": [Fault(redirect=Redirect(307, "other"))]},
        Call(),
        Expect(count=2, requests={"other": (2, 10)}),
    ),
    Case(
        "image-loop",
        8,
        "image 1 redirects in a loop",
        "stops after 5 redirects; raises with the images that arrived",
        {"image/1": [Fault(redirect=Redirect(302, "loop"))]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 1, "status_code": 302}, count=1),
    ),
    # --- 10. models without end, images of the wrong size ---------------------------------------
    Case(
        "models-endless",
        10,
        "the model list always announces another page",
        "stops within 1000 pages",
        {"models": [Fault(endless=True)]},
        Call("models", timeout=30),
        Expect(
            may_raise=ppio.PPIOError,
            requests={"models": (1, MODEL_PAGES)},
            text="at most 1000 page requests; the models listed, or a `PPIOError`",
        ),
        kit={"endless_max_pages": 1100, "endless_max_seconds": 30},
    ),
    Case(
        "models-endless-slow",
        10,
        "the model list always announces another page, each after 50 ms",
        "stops at the client's timeout",
        {"models": [Fault(endless=True, delay=0.05)]},
        Call("models", timeout=2),
        Expect(
            ppio.WaitTimeoutError, {"task_id": None}, says=("listing models",), never_says=("submitting",)
        ),
        kit={"endless_max_seconds": 5},
    ),
    Case(
        "image-huge",
        10,
        "image 1 is a 10000x10000 PNG (128x128 asked)",
        "refuses it (size mismatch)",
        {"image/1": [Fault(size=(10000, 10000))]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 1}, count=1),
    ),
    Case(
        "image-too-small",
        10,
        "image 0 is 64x64 (128x128 asked)",
        "refuses it (size mismatch)",
        {"image/0": [Fault(size=(64, 64))]},
        Call(),
        Expect(ppio.ImageError, {"task_id": T, "index": 0}, count=1),
    ),
    Case(
        "hires-fix-size",
        10,
        "hires fix to 256x256 asked: images come at 256x256",
        "expects the target size",
        {},
        Call(options={"hires_fix": ppio.HiresFix(256, 256, 0.5)}),
        Expect(count=2, attrs={"images.0.size": (256, 256), "images.1.size": (256, 256)}),
    ),
    Case(
        "hires-fix-ignored",
        10,
        "hires fix to 256x256 asked: images come at 128x128",
        "refuses them (size mismatch)",
        {"image": [Fault(size=(128, 128))]},
        Call(options={"hires_fix": ppio.HiresFix(256, 256, 0.5)}),
        Expect(ppio.ImageError, {"task_id": T, "index": 0}, count=0),
    ),
)
