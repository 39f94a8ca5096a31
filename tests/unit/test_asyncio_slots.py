"""`AsyncioSlots`, the aiohttp transport's request slots on asyncio's own futures: a slot freed goes to the
longest wait, a wait past its time is `PoolTimeout` and never sent, and neither a cancelled wait nor a
slot handed to a wait cancelled before it ran is lost (a lost slot would stall every later request)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from ppio_txt2img._io import Reply, Send
from ppio_txt2img._slots import AsyncioSlots

GET = Send("GET", "http://x.invalid/", timeout=30.0, connect_timeout=30.0)


class Held:
    """A `send` that records each request's name and holds it until released."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    def send_as(self, name: str) -> Callable[[Send], Awaitable[Reply]]:
        async def send(action: Send) -> Reply:
            self.order.append(name)
            event = self.release.setdefault(name, asyncio.Event())
            await event.wait()
            return Reply(200, httpx.Headers(), name.encode())

        return send

    def let_go(self, name: str) -> None:
        self.release.setdefault(name, asyncio.Event()).set()


async def _turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def test_freed_slots_go_to_the_waits_in_the_order_they_came() -> None:
    async def main() -> list[str]:
        slots, held = AsyncioSlots(2), Held()
        tasks = [asyncio.create_task(slots.send(GET, held.send_as(name))) for name in "abcde"]
        await _turns()
        assert held.order == ["a", "b"]  # two slots: the others wait
        for name in "abcde":
            held.let_go(name)
            await _turns()
        replies = await asyncio.gather(*tasks)
        assert [r.content for r in replies] == [name.encode() for name in "abcde"]
        return held.order

    assert asyncio.run(main()) == list("abcde")


def test_a_wait_past_its_time_is_a_pool_timeout_and_is_never_sent() -> None:
    async def main() -> None:
        slots, held = AsyncioSlots(1), Held()
        first = asyncio.create_task(slots.send(GET, held.send_as("first")))
        await _turns()
        short = Send("POST", "http://x.invalid/", timeout=0.1, connect_timeout=0.1)
        with pytest.raises(httpx.PoolTimeout, match="not sent"):
            await slots.send(short, held.send_as("short"))
        held.let_go("first")
        await first
        held.let_go("later")
        await asyncio.wait_for(slots.send(GET, held.send_as("later")), 30)  # the slot came back
        assert held.order == ["first", "later"]

    asyncio.run(main())


def _waited_for(actions: list[Send], hold: float) -> list[Send | BaseException]:
    """Each of `actions` sent on one slot that another request holds for `hold` seconds: the request each
    went out as, or the error it got instead."""

    async def main() -> list[Send | BaseException]:
        slots, held = AsyncioSlots(1), Held()
        seen: list[Send] = []

        async def record(action: Send) -> Reply:
            seen.append(action)
            return Reply(200, httpx.Headers(), b"")

        first = asyncio.create_task(slots.send(GET, held.send_as("first")))
        await _turns()
        waits = [asyncio.create_task(slots.send(action, record)) for action in actions]
        await asyncio.sleep(hold)
        held.let_go("first")
        await first
        results = await asyncio.gather(*waits, return_exceptions=True)
        sent = iter(seen)
        return [r if isinstance(r, BaseException) else next(sent) for r in results]

    return asyncio.run(main())


def test_a_wait_for_a_slot_comes_out_of_the_deadline_not_out_of_the_exchanges_own_time() -> None:
    """A request queued behind the client's others has not started: it may wait past its own timeout
    while the call's deadline lasts, and it then gets its whole timeout, or what is left of the
    deadline when that is less. Cut from its own time, a POST could go out with too little left to be
    answered, time out in flight and leave a task unknown."""
    roomy = Send("POST", "http://x.invalid/", timeout=0.1, connect_timeout=0.1, deadline_left=30.0)
    tight = Send("GET", "http://x.invalid/", timeout=5.0, connect_timeout=5.0, deadline_left=5.0)
    sent = _waited_for([roomy, tight], hold=0.3)
    assert isinstance(sent[0], Send)
    assert sent[0].timeout == 0.1  # it waited 0.3 s, longer than its own 0.1 s
    assert isinstance(sent[1], Send)
    assert sent[1].timeout <= 4.7  # the deadline's 5 s, less the wait


def test_without_a_deadline_a_wait_comes_out_of_the_requests_timeout() -> None:
    untold = Send("GET", "http://x.invalid/", timeout=5.0, connect_timeout=5.0)
    sent = _waited_for([untold], hold=0.2)
    assert isinstance(sent[0], Send)
    assert sent[0].timeout <= 4.8


def test_a_wait_for_a_slot_ends_with_the_deadline_and_is_never_sent() -> None:
    doomed = Send("POST", "http://x.invalid/", timeout=30.0, connect_timeout=30.0, deadline_left=0.1)
    (outcome,) = _waited_for([doomed], hold=0.3)
    assert isinstance(outcome, httpx.PoolTimeout)
    assert "not sent" in str(outcome)


def test_a_cancelled_wait_gives_up_its_place_and_loses_no_slot() -> None:
    async def main() -> None:
        slots, held = AsyncioSlots(1), Held()
        first = asyncio.create_task(slots.send(GET, held.send_as("first")))
        await _turns()
        doomed = asyncio.create_task(slots.send(GET, held.send_as("doomed")))
        await _turns()
        doomed.cancel()
        await _turns()
        held.let_go("first")
        await first
        held.let_go("after")
        await asyncio.wait_for(slots.send(GET, held.send_as("after")), 30)
        assert held.order == ["first", "after"]
        assert doomed.cancelled()

    asyncio.run(main())


def test_a_slot_handed_to_a_wait_cancelled_before_it_ran_goes_on_to_the_next() -> None:
    async def main() -> None:
        slots, held = AsyncioSlots(1), Held()
        doomed: list[asyncio.Task[Reply]] = []

        async def first_then_cancel() -> None:
            await slots.send(GET, held.send_as("first"))
            # The release just handed the slot to `doomed`, which has not run since: cancel it now.
            doomed[0].cancel()

        first = asyncio.create_task(first_then_cancel())
        await _turns()
        doomed.append(asyncio.create_task(slots.send(GET, held.send_as("doomed"))))
        after = asyncio.create_task(slots.send(GET, held.send_as("after")))
        await _turns()
        held.let_go("first")
        held.let_go("after")
        await first
        await asyncio.wait_for(after, 30)
        assert held.order == ["first", "after"]
        assert doomed[0].cancelled()
        held.let_go("last")
        await asyncio.wait_for(slots.send(GET, held.send_as("last")), 30)  # and none was lost

    asyncio.run(main())


def test_a_reply_says_how_long_its_request_waited_for_a_slot() -> None:
    async def main() -> tuple[float, float]:
        slots, held = AsyncioSlots(1), Held()
        first = asyncio.create_task(slots.send(GET, held.send_as("first")))
        await _turns()
        waiting = asyncio.create_task(slots.send(GET, held.send_as("waiting")))
        await asyncio.sleep(0.2)  # the slot stays taken at least this long
        held.let_go("first")
        held.let_go("waiting")
        return (await first).queued, (await waiting).queued

    first, waiting = asyncio.run(main())
    assert first == 0.0  # a free slot: no wait
    assert waiting >= 0.19  # the wait is no part of the exchange (see `_http.went_out`)
