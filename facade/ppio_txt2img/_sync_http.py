"""The sync client's own httpx client: one per process.

A `Client` made before a fork (at module level in a web server's master, or before a `multiprocessing`
pool starts its workers) hands the child a copy of its pool, whose kept-alive connections are the
parent's sockets too. Two processes writing requests on one connection read each other's answers: a
wait got another task's result, another timed out, another read half an answer. So the pool is the
process's that made it: a process it was forked into makes its own at its first request, and leaves the
inherited one alone (closing it could end the parent's connections under it; it is kept, never used,
so that no collected socket warns).

The async client needs no such thing: its pools belong to an event loop (`_loop_clients.py`), and a
forked child runs a loop of its own. A caller's `http_client=` is the caller's to make per process.
"""

from __future__ import annotations

import os
import threading

import httpx

from ._transport import own_httpx_client

__all__ = ["OwnSyncHttp"]


class OwnSyncHttp:
    """`current()` is the httpx client of the process calling it (made the first time a process asks);
    `close()` closes this process's."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._client = own_httpx_client(httpx.Client)
        self._inherited: list[httpx.Client] = []
        self._closed = False  # closed in any process before: closed in the processes forked after

    def current(self) -> httpx.Client:
        if self._pid != os.getpid():
            with _lock:
                if self._pid != os.getpid():  # forked: the pool's connections are the parent's too
                    self._inherited.append(self._client)
                    self._client = own_httpx_client(httpx.Client)
                    self._pid = os.getpid()
                    if self._closed:  # closed before the fork, or here before a request: stays closed
                        self._client.close()
        return self._client

    def close(self) -> None:
        self._closed = True
        if self._pid == os.getpid():
            self._client.close()
        # else: closed in a child before it made a request: the pool is the parent's, left alone; the
        # next `current()` here makes this process's, closed


#: Guards the replacement of a pool in a forked child (made anew there: a lock another thread held at
#: the fork stays held in the child).
_lock = threading.Lock()


def _new_lock() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock)
