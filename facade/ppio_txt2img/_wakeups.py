"""Waits that a webhook can cut short: a registry of the task ids being waited for, each with a waiter
that a sleeping wait (sync or async) wakes from as soon as its task's webhook arrives.

A webhook is only a hint (the API does not sign them): a woken wait confirms with one poll.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = ["Closing", "Waiter", "Wakeups"]

_log = logging.getLogger("ppio_txt2img.webhooks")


class Waiter:
    """One wait's wake-up call. `notify` may come from any thread; a notification that arrives while the
    wait is not sleeping is kept for its next sleep.

    Small on purpose: every pending wait holds one or two (its crowd's, its sleep's), and a client with
    a thousand tasks in flight has each of their objects scanned by the garbage collector again and
    again. So no `threading.Event` of its own (with its condition, locks and deque, nine objects): one
    lock for all waiters guards the flag, and a sleep brings what wakes it."""

    __slots__ = ("_notified", "_wake", "ever_notified")

    def __init__(self) -> None:
        self._notified = False
        self._wake: Callable[[], object] | None = None  # ends the sleep under way, from any thread
        #: Whether it was ever notified (a webhook came; `Wakeups.missed` is told of waits with none).
        self.ever_notified = False

    @property
    def notified(self) -> bool:
        """Whether a notification is waiting for the next sleep (or ended the last)."""
        return self._notified

    def notify(self) -> None:
        with _WAITERS_LOCK:
            self.ever_notified = self._notified = True
            wake = self._wake
        if wake is not None:
            wake()

    def clear(self) -> None:
        """Forget a notification: the poll about to be made answers it."""
        self._notified = False

    def _arm(self, wake: Callable[[], object]) -> bool:
        """Have `notify` call `wake` during the sleep about to begin; False if notified already (no need
        to sleep)."""
        with _WAITERS_LOCK:
            if self._notified:
                return False
            self._wake = wake
            return True

    def _disarm(self) -> None:
        with _WAITERS_LOCK:
            self._wake = None

    def _taken(self) -> bool:
        """After a sleep: whether it was notified (and forget it)."""
        with _WAITERS_LOCK:
            notified, self._notified = self._notified, False
        return notified

    def sleep_sync(self, seconds: float) -> bool:
        """Sleep up to `seconds`, or until notified; whether it was."""
        event = threading.Event()
        if self._arm(event.set):
            try:
                event.wait(seconds)
            finally:
                self._disarm()
        return self._taken()

    async def sleep_async(self, seconds: float) -> bool:
        """Sleep up to `seconds`, or until notified; whether it was. Under asyncio, on a bare future and
        timer (an anyio event and cancel scope cost twice as much CPU, for every sleep of every wait)."""
        import sniffio

        if sniffio.current_async_library() != "asyncio":
            await self._sleep_anyio(seconds)
            return self._taken()
        import asyncio

        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        if self._arm(partial(_settle_soon, loop, threading.get_ident(), woken)):
            timer = loop.call_later(seconds, _settle, woken)
            try:
                await woken
            finally:
                timer.cancel()
                self._disarm()
        return self._taken()

    async def _sleep_anyio(self, seconds: float) -> None:
        import anyio
        import anyio.lowlevel

        event = anyio.Event()
        token = anyio.lowlevel.current_token()
        if self._arm(partial(_set_soon, token, threading.get_ident(), event)):
            try:
                with anyio.move_on_after(seconds):
                    await event.wait()
            finally:
                self._disarm()


#: Guards every `Waiter`'s flag and wake-up call (held for a few instructions at a time).
_WAITERS_LOCK = threading.Lock()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _settle_soon(loop: asyncio.AbstractEventLoop, thread: int, future: asyncio.Future[None]) -> None:
    """End an asyncio sleep: at once in its loop's own thread, else soon, without waiting for the loop
    (a webhook server's thread must not wait for a busy event loop)."""
    if threading.get_ident() == thread:
        _settle(future)
    else:
        with contextlib.suppress(RuntimeError):  # the loop has ended: nobody sleeps there any more
            loop.call_soon_threadsafe(_settle, future)


def _set_soon(token: Any, thread: int, event: Any) -> None:
    """End a trio sleep (`event`, of the run of the anyio `token`) as `_settle_soon` ends an asyncio one
    (anyio's other library: asyncio sleeps on its own futures)."""
    if threading.get_ident() == thread:
        event.set()
    else:
        with contextlib.suppress(RuntimeError):  # the run has ended (trio.RunFinishedError)
            token.native_token.run_sync_soon(event.set)


class Wakeups:
    """The waits registered by task id. Safe to share between threads and event loops.

    A webhook can come before its wait registers: before the POST's answer (the task id is not known
    yet), or at any time before a `wait()` that follows a `submit()`. It is remembered, so that the wait
    is woken at once. Webhooks are unsigned: anyone can send one for any id. So the memory is in two
    parts: the tasks the receiver's clients created and told the API to send here (`expect`), one entry
    each, which no webhook for another id can push out; and webhooks for ids not (yet) known, in a
    bounded first-in first-out memory, which forged or stale ones can fill, but which a real webhook
    only needs until its POST's answer comes."""

    #: Task ids notified with no wait registered and not expected (a webhook can beat the POST's
    #: answer), kept a while.
    REMEMBERED = 10_000
    #: Tasks expected and not yet waited for (a client that submits and never waits keeps the newest).
    EXPECTED = 10_000

    def __init__(self, fallback_poll: float) -> None:
        #: How often a wait still polls, in case its webhook never comes.
        self.fallback_poll = fallback_poll
        self._lock = threading.Lock()
        self._waiters: dict[str, list[Waiter]] = {}
        self._early: dict[str, None] = {}
        #: Tasks created with this receiver's URL and not yet waited for: whether their webhook came.
        self._expected: dict[str, bool] = {}
        #: Tasks a wait found done with no webhook come for them (see `missed`).
        self.missing = 0
        #: Webhooks notified, for any task.
        self.heard = 0
        self._servers = 0  # the receiver's own servers running (`serving`)
        self._served = False

    @property
    def listening(self) -> bool:
        """Whether a webhook can still come: False once every server of the receiver's own (`serve`,
        `serve_async`) has ended. A receiver mounted in an app, which it cannot see, is taken to listen."""
        return not self._served or self._servers > 0

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """While one of the receiver's own servers runs. When the last ends, every wait sleeping for a
        webhook is woken: it looks at its task now, then polls on the task's own schedule."""
        with self._lock:
            self._servers += 1
            self._served = True
        try:
            yield
        finally:
            with self._lock:
                self._servers -= 1
                waiters = [w for ws in self._waiters.values() for w in ws] if not self._servers else []
            for waiter in waiters:
                waiter.notify()

    def expect(self, task_id: str) -> None:
        """A client of the receiver created `task_id` and told the API to send its webhook here: from now
        on, its webhook is remembered until a wait registers, whatever comes for other ids."""
        with self._lock:
            came = self._early.pop(task_id, 0) is None  # before the POST's answer named it
            self._expected[task_id] = came or self._expected.get(task_id, False)
            _keep_newest(self._expected, self.EXPECTED)

    def register(self, task_id: str) -> Waiter:
        waiter = Waiter()
        with self._lock:
            self._waiters.setdefault(task_id, []).append(waiter)
            came = self._expected.pop(task_id, False)
            early = self._early.pop(task_id, 0) is None or came
        if early:
            waiter.notify()
        return waiter

    def unregister(self, task_id: str, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(task_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(task_id, None)

    def missed(self, task_id: str, sent_to: str) -> None:
        """A wait's poll found `task_id` done, and the webhook the API was told to send to `sent_to` had not
        come. While no webhook at all has come, that is a receiver the API cannot reach (a wrong URL, a
        path the app does not route to it), which would otherwise only show as waits ending a fallback
        poll late: a warning, the 1st, 10th, 100th... time. Once webhooks do come, a poll can land
        between a task's finish and its webhook: counted, and logged at debug level."""
        with self._lock:
            self.missing += 1
            count, heard = self.missing, self.heard
        if heard:
            _log.debug("task %s was found done before its webhook came", task_id)
        elif count == 10 ** (len(str(count)) - 1):
            _log.warning(
                "task %s finished, and no webhook has come yet (%d %s so far): check that the API "
                "can reach %s and that it is routed to the WebhookReceiver",
                task_id,
                count,
                "such task" if count == 1 else "such tasks",
                sent_to,
            )

    def notify(self, task_id: str) -> int:
        """Wake every wait for `task_id`; how many there were."""
        with self._lock:
            self.heard += 1
            waiters = list(self._waiters.get(task_id, ()))
            if not waiters and task_id in self._expected:
                self._expected[task_id] = True
            elif not waiters:
                self._early[task_id] = None
                _keep_newest(self._early, self.REMEMBERED)
        for waiter in waiters:
            waiter.notify()
        return len(waiters)


def _keep_newest(memory: dict[str, Any], size: int) -> None:
    """Drop the oldest entries of `memory` (insertion order) until it holds at most `size`."""
    while len(memory) > size:
        del memory[next(iter(memory))]


class Closing:
    """A client's `close()` as the waits sleeping on it see it: each sleep registers how to wake it (a
    thread-safe callable), and closing wakes them all at once; the wait then finds the client closed and
    ends (`ClientClosedError`) rather than at its next poll."""

    def __init__(self) -> None:
        self.closed = False
        self._wakers: set[Callable[[], object]] = set()

    def close(self) -> None:
        self.closed = True
        for wake in list(self._wakers):  # list(set) copies under the GIL: sleeps may come and go meanwhile
            wake()

    def register(self, wake: Callable[[], object]) -> None:
        """Have `close()` call `wake` (at once, if it already happened) until `unregister`."""
        self._wakers.add(wake)
        if self.closed:
            wake()

    def unregister(self, wake: Callable[[], object]) -> None:
        self._wakers.discard(wake)

    def sleep_sync(self, seconds: float) -> None:
        """Sleep up to `seconds`, or until closed."""
        self.wait_sync(Waiter(), seconds)

    def wait_sync(self, waiter: Waiter, seconds: float) -> bool:
        """`waiter.sleep_sync(seconds)`, or until closed."""
        self.register(waiter.notify)
        try:
            return waiter.sleep_sync(seconds)
        finally:
            self.unregister(waiter.notify)

    async def wait_async(self, waiter: Waiter, seconds: float) -> bool:
        """`waiter.sleep_async(seconds)`, or until closed."""
        self.register(waiter.notify)
        try:
            return await waiter.sleep_async(seconds)
        finally:
            self.unregister(waiter.notify)
