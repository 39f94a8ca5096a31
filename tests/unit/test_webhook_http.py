"""`RequestReader`: the webhook server's HTTP/1.1 without I/O, fed bytes as any peer may split them."""

from __future__ import annotations

import json
import random

import pytest

from ppio_txt2img._webhook_http import (
    MAX_HEAD_BYTES,
    MAX_WEBHOOK_BYTES,
    RequestReader,
    Step,
    _H11Reader,
    plain_head,
)

EVENT = json.dumps({"event_type": "ASYNC_TASK_RESULT", "payload": {"task": {"task_id": "t1"}}}).encode()
REQUEST = f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {len(EVENT)}\r\n\r\n".encode() + EVENT


class Recorder:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[tuple[str, bytes]] = []

    def __call__(self, method: str, body: bytes) -> int:
        self.calls.append((method, body))
        return self.status


def feed_in_pieces(reader: RequestReader, data: bytes, size: int) -> list[Step]:
    return [reader.feed(data[i : i + size]) for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 7, 64, len(REQUEST)])
def test_a_request_split_anywhere_is_read_once_whole(size: int) -> None:
    handle = Recorder(202)
    steps = feed_in_pieces(RequestReader(handle), REQUEST, size)
    assert [step.status for step in steps if step.status is not None] == [202]
    assert steps[-1].status == 202  # only the last piece completes it
    assert handle.calls == [("POST", EVENT)]


def test_the_answer_says_it_closes_and_has_no_body() -> None:
    reader = RequestReader(Recorder())
    assert reader.feed(REQUEST).status == 200
    answer = reader.answer(200)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"connection: close" in answer.lower()
    assert b"content-length: 0\r\n" in answer.lower()
    assert answer.endswith(b"\r\n\r\n")  # the head, and no body after it


def test_a_peer_expecting_100_continue_is_sent_it_before_the_body() -> None:
    reader = RequestReader(Recorder())
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(EVENT)}\r\nExpect: 100-continue\r\n\r\n"
    interim = reader.feed(head.encode())
    assert interim.send.startswith(b"HTTP/1.1 100 ")
    assert interim.status is None
    assert reader.feed(EVENT).status == 200


def test_a_peer_closing_before_any_request_is_not_answered() -> None:
    assert RequestReader(Recorder()).feed(b"") == Step(closed=True)


def test_a_peer_closing_mid_request_is_answered_400_and_nothing_handled() -> None:
    handle = Recorder()
    reader = RequestReader(handle)
    assert reader.feed(REQUEST[:-5]).status is None
    assert reader.feed(b"").status == 400
    assert handle.calls == []
    assert reader.answer(400).startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize(
    "data",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * MAX_HEAD_BYTES,  # a head without end
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"\x00\xff garbage\r\n\r\n",
    ],
    ids=["endless-head", "negative-length", "garbage"],
)
def test_what_h11_cannot_parse_is_answered_400_unhandled(data: bytes) -> None:
    handle = Recorder()
    assert RequestReader(handle).feed(data).status == 400
    assert handle.calls == []


def test_a_body_over_the_limit_is_refused_before_it_is_read_declared_or_not() -> None:
    handle = Recorder()
    declared = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_WEBHOOK_BYTES + 1}\r\n\r\n"
    assert RequestReader(handle).feed(declared.encode()).status == 413
    chunked = RequestReader(handle)
    assert chunked.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").status is None
    chunk = b"%x\r\n%s\r\n" % (MAX_WEBHOOK_BYTES // 2 + 1, b"x" * (MAX_WEBHOOK_BYTES // 2 + 1))
    statuses = [chunked.feed(chunk).status, chunked.feed(chunk).status]
    assert statuses == [None, 413]
    assert handle.calls == []


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_empty_lines_before_the_request_line_are_skipped(size: int) -> None:
    handle = Recorder(202)
    steps = feed_in_pieces(RequestReader(handle), b"\r\n\r\n\n" + REQUEST, size)
    assert [step.status for step in steps if step.status is not None] == [202]
    assert handle.calls == [("POST", EVENT)]


def test_a_peer_sending_only_empty_lines_then_closing_is_not_answered() -> None:
    reader = RequestReader(Recorder())
    assert reader.feed(b"\r\n\r\n") == Step()
    assert reader.feed(b"") == Step(closed=True)


# -- plain requests are read without h11, exactly as h11 reads them

BODY = b'{"payload": {"task": {"task_id": "t1"}}}'


def _request(head: str, body: bytes = BODY) -> bytes:
    return head.replace("{n}", str(len(body))).encode("latin-1") + body


PLAIN = {
    "minimal": _request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n"),
    "a sender's usual fields": _request(
        "POST /hook?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
        "Content-Length: {n}\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n"
        "Connection: close\r\n\r\n"
    ),
    "names in any case, blanks around values": _request(
        "POST / HTTP/1.1\r\nhOsT:x\r\ncontent-LENGTH:\t {n} \t\r\nX-Empty:\r\nX-Inner: a  b\tc\r\n\r\n"
    ),
    "a lower-case method": _request("post / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n"),
    "an empty body": _request("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b""),
    "a length of 20 digits": _request(
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY):020d}\r\n\r\n"
    ),
    "a second request after it": _request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n")
    + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "a body over the limit": _request(
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_WEBHOOK_BYTES + 1}\r\n\r\n", b"x" * 10
    ),
}
ODD = {
    "HTTP/1.0": _request("POST / HTTP/1.0\r\nContent-Length: {n}\r\n\r\n"),
    "CONNECT": _request("CONNECT x:443 HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n"),
    "no Host": _request("POST / HTTP/1.1\r\nContent-Length: {n}\r\n\r\n"),
    "two Hosts": _request("POST / HTTP/1.1\r\nHost: x\r\nHost: y\r\nContent-Length: {n}\r\n\r\n"),
    "no Content-Length": _request("POST / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "two equal Content-Lengths": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\nContent-Length: {n}\r\n\r\n"
    ),
    "two different Content-Lengths": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\nContent-Length: 3\r\n\r\n"
    ),
    "a Content-Length list": _request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}, {n}\r\n\r\n"),
    "a length of 21 digits": _request(
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY):021d}\r\n\r\n"
    ),
    "a negative length": _request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
    "chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY),
    "chunked and a length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    + b"Transfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY),
    "Expect: 100-continue": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {n}\r\n\r\n"
    ),
    "Upgrade": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
        "Content-Length: {n}\r\n\r\n"
    ),
    "a folded field": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\nContent-Length: {n}\r\n\r\n"
    ),
    "bare line feeds": _request("POST / HTTP/1.1\nHost: x\nContent-Length: {n}\n\n"),
    "one bare line feed": _request("POST / HTTP/1.1\r\nHost: x\nContent-Length: {n}\r\n\r\n"),
    "a blank line ended by a bare line feed": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\n"
    ),
    "a lone carriage return": _request("POST / HTTP/1.1\r\nHost: x\rY\r\nContent-Length: {n}\r\n\r\n"),
    "a space before the colon": _request("POST / HTTP/1.1\r\nHost : x\r\nContent-Length: {n}\r\n\r\n"),
    "UTF-8 in a value": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\nContent-Length: {n}\r\n\r\n"
    ),
    "a control character in a value": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\nContent-Length: {n}\r\n\r\n"
    ),
    "a space in the target": _request("POST /a b HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n"),
    "two spaces after the method": _request("POST  / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n"),
    "a body shorter than its length": _request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n"),
    "a head longer than the limit": _request(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Long: " + "a" * MAX_HEAD_BYTES + "\r\nContent-Length: {n}\r\n\r\n"
    ),
    "a head without end": b"POST / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (MAX_HEAD_BYTES + 10),
    "garbage": b"\x00\xff garbage\r\n\r\n",
    "empty lines first": b"\r\n\n\r\n"
    + _request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n"),
}


#: The odd requests whose head itself is odd (the others are odd in their body, length or framing).
ODD_HEADS = [
    name
    for name in ODD
    if name
    not in (
        "a body shorter than its length",
        "a head longer than the limit",
        "a head without end",
        "empty lines first",
    )
]


def _pieces(data: bytes, sizes: str) -> list[bytes]:
    """`data` split as a peer may send it: whole, in pieces of one size, or at random places."""
    if sizes == "whole":
        return [data]
    if sizes.startswith("random"):
        rng = random.Random(sizes)
        cuts = sorted(rng.sample(range(1, len(data)), min(8, len(data) - 1)))
        return [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    size = int(sizes)
    return [data[i : i + size] for i in range(0, len(data), size)]


def _conversation(reader: RequestReader | _H11Reader, pieces: list[bytes]) -> tuple[list[Step], list[bytes]]:
    """What the server does with a reader: feed it until it answers or the peer closes; the steps and the
    answer sent, as its lines with field names in lower case (h11 writes `Connection` as the request did)."""
    steps = []
    for piece in pieces:
        steps.append(reader.feed(piece))
        if steps[-1].status is not None or steps[-1].closed:
            break
    status = steps[-1].status
    answer = reader.answer(status) if status is not None else b""
    lines = [
        name.lower() + colon + value
        for name, colon, value in (x.partition(b":") for x in answer.split(b"\r\n"))
    ]
    return steps, lines


@pytest.mark.parametrize("sizes", ["whole", "1", "5", "64", "random-1", "random-2"])
@pytest.mark.parametrize("closes", [False, True], ids=["open", "then-closed"])
@pytest.mark.parametrize("name", [*PLAIN, *ODD])
def test_every_request_gets_what_h11_alone_gives_it(name: str, closes: bool, sizes: str) -> None:
    data = {**PLAIN, **ODD}[name]
    pieces = _pieces(data, sizes) + ([b""] if closes else [])
    ours, h11s = Recorder(202), Recorder(202)
    assert _conversation(RequestReader(ours), pieces) == _conversation(_H11Reader(h11s), pieces)
    assert ours.calls == h11s.calls


@pytest.mark.parametrize("name", PLAIN)
def test_plain_heads_are_read_without_h11(name: str) -> None:
    head = PLAIN[name].partition(b"\r\n\r\n")[0]
    assert plain_head(head) is not None


@pytest.mark.parametrize("name", ODD_HEADS)
def test_odd_heads_go_to_h11(name: str) -> None:
    head = ODD[name].partition(b"\r\n\r\n")[0]
    assert plain_head(head) is None
