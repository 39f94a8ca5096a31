"""`RequestReader`: the webhook server's HTTP/1.1 without I/O, fed bytes as any peer may split them."""

from __future__ import annotations

import json

import pytest

from ppio_txt2img._webhook_http import MAX_HEAD_BYTES, MAX_WEBHOOK_BYTES, RequestReader, Step

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
