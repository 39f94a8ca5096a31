"""Pacing submissions in images per minute. Pure: every method takes the time (`now`); no I/O.

The API counts images (`image_num`), not requests, per account over a minute. Both pacers keep a
sliding window of what was sent; an entry is stamped when its POST's answer came back (not when it
left), so a request that arrives late at the server can never make two sends look closer together
to the server than they were to us. A POST still in flight counts as sent "now".

`WindowPacer(limit)`: the user knows the limit; never more than `limit` images in any window.
`AdaptivePacer()`: the limit is learnt (see the class).

Use: `delay = pacer.delay(cost, now)`; once it is 0, `ticket = pacer.sent(cost, now)` (with no await
in between), then `pacer.accepted(ticket, now)` or `pacer.rejected(ticket, now, retry_after)`, or
`pacer.cancelled(ticket)` when the POST's outcome is unknown or it failed without a 429.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass

__all__ = ["AdaptivePacer", "Pacer", "Ticket", "WindowPacer"]

#: The rate limit's window: the API counts images per minute.
MINUTE = 60.0


@dataclass(frozen=True)
class Ticket:
    """One POST in flight: its images and its id in the pacer."""

    id: int
    cost: int


class Pacer:
    """A sliding window of images with a limit; the base of both pacers."""

    def __init__(self, limit: float, *, window: float = MINUTE) -> None:
        if not (window > 0 and limit >= 1):
            raise ValueError(f"a pacer needs window > 0 and limit >= 1, got {window!r}, {limit!r}")
        self.window = window
        self.limit = float(limit)
        self.pause_until = -math.inf
        self._done: deque[tuple[float, int]] = deque()  # accepted: (answered at, images), oldest first
        self._done_images = 0
        self._in_flight: dict[int, int] = {}
        self._in_flight_images = 0  # the sum of `_in_flight` (one pacer may pace thousands of POSTs)
        self._ids = itertools.count()
        #: Counters, for reports: POSTs let through, accepted, and answered 429.
        self.sent_count = self.accepted_count = self.rejected_count = 0
        self.accepted_images = 0
        #: What the last 429 showed the server allows in a window (0 before any): the images accepted in
        #: the window then, plus those of the POSTs in flight beside it (`_beside`) that turn out
        #: accepted, counted as their answers come. Counted short, a pacer would hold its rate under the
        #: limit for many windows.
        self.allowed_at_429 = 0.0
        self._beside: set[int] = set()
        self._beside_until = -math.inf  # the end of that 429's pause: heard later, a later window's
        #: POSTs failed in a row by an outage (a 5xx, a dropped or refused connection), none accepted since.
        self.outages = 0

    # ------------------------------------------------------------------------------------- window
    def _expire(self, now: float) -> None:
        while self._done and self._done[0][0] <= now - self.window:
            self._done_images -= self._done.popleft()[1]

    def in_window(self, now: float) -> int:
        """Images accepted within the last window, plus those in flight."""
        self._expire(now)
        return self._done_images + self._in_flight_images

    def accepted_in_window(self, now: float) -> int:
        """Images accepted within the last window (the rate achieved, in images per window)."""
        self._expire(now)
        return self._done_images

    def allowance(self) -> int:
        return max(1, math.floor(self.limit + 1e-9))

    def delay(self, cost: int, now: float) -> float:
        """Seconds to wait before `cost` images may be sent; 0 means now."""
        if now < self.pause_until:
            return self.pause_until - now
        limit = self.allowance()
        cost = min(cost, limit)  # a request bigger than the limit waits for an empty window
        used = self.in_window(now)
        if used + cost <= limit:
            return 0.0
        in_flight = self._in_flight_images
        need = used + cost - limit
        freed = 0
        for when, images in self._done:
            freed += images
            if freed >= need:
                return max(when + self.window - now, 1e-3)
        # Only answers still to come can free room: look again shortly (an answer wakes the caller).
        return max(min(0.05, self.window / limit / 4), 1e-3) if in_flight else 1e-3

    def already_sent(self, at: float, cost: int) -> None:
        """`cost` images the server counted at `at` (on this clock) before this pacer began: a rerun's
        pacer is told what the run before it sent (`Journal.sent_since`), oldest first, before any send."""
        self._done.append((at, cost))
        self._done_images += cost

    def _land(self, ticket: Ticket) -> None:
        """The ticket's POST is no longer in flight."""
        self._in_flight_images -= self._in_flight.pop(ticket.id, 0)

    def sent(self, cost: int, now: float) -> Ticket:
        ticket = Ticket(next(self._ids), cost)
        self._in_flight[ticket.id] = cost
        self._in_flight_images += cost
        self.sent_count += 1
        return ticket

    def accepted(self, ticket: Ticket, now: float) -> None:
        """The POST created its task: its images count from now, for one window."""
        self.outages = 0
        self._land(ticket)
        self._done.append((now, ticket.cost))
        self._done_images += ticket.cost
        self.accepted_count += 1
        self.accepted_images += ticket.cost

    def rejected(self, ticket: Ticket, now: float, retry_after: float | None) -> None:
        """The POST was answered 429: nothing was created. Everything waits `retry_after` at least."""
        self._land(ticket)
        self.rejected_count += 1
        wait = retry_after if retry_after is not None else self.window / self.allowance()
        self._beside_until = now + min(wait, self.window)
        self.pause_until = max(self.pause_until, self._beside_until)
        self.allowed_at_429 = float(self.accepted_in_window(now))
        self._beside = set(self._in_flight) if self.allowed_at_429 else set()

    def _was_beside_429(self, ticket: Ticket, now: float) -> bool:
        """Whether the accepted `ticket` was in flight beside the last 429 and heard of within its pause
        (the server had no room until its `Retry-After`: accepted before then, it was in the window
        the 429 saw): then it counts toward what that 429 showed allowed (`allowed_at_429`)."""
        if ticket.id not in self._beside:
            return False
        self._beside.discard(ticket.id)
        if now > self._beside_until:
            return False
        self.allowed_at_429 += ticket.cost
        return True

    def outage(self, now: float, retry_after: float | None = None) -> None:
        """A POST failed as an API that is down fails (a 5xx, a dropped or refused connection): pause
        every send, for the server's `Retry-After` or longer each time in a row (1, 2, 4 ... s, up to
        a window). Each such POST may leave a line unknown (a task may exist): an outage of ten
        minutes sent on at the rate limit would leave thousands so, paused it leaves a few."""
        self.outages += 1
        backoff = min(self.window, 2.0 ** (self.outages - 1))
        wait = max(backoff, min(retry_after, self.window)) if retry_after is not None else backoff
        self.pause_until = max(self.pause_until, now + wait)

    def released(self, ticket: Ticket) -> None:
        """The POST provably never reached the server (connection refused): it counts for nothing."""
        self._land(ticket)

    def cancelled(self, ticket: Ticket, now: float) -> None:
        """The POST failed otherwise (or its outcome is unknown): count it as sent, to be safe."""
        self._land(ticket)
        self._done.append((now, ticket.cost))
        self._done_images += ticket.cost


class WindowPacer(Pacer):
    """The limit is known: never more than `limit` images in any `window` seconds (as the server sees
    them, since entries are stamped on the answer). A 429 anyway (the limit is shared with other
    clients, or a rerun met the images of the run before it in the server's window) pauses all sends
    for its `Retry-After` and lowers the allowance to what the server accepted in the last window
    (`allowed_at_429`; or halves it, if nothing was). It grows back by one image per window, never
    above `limit`: a 429 beside most of the limit's images says the limit is less than said. A 429
    beside less than half of them says the server counted images of others (the run before a rerun,
    another client of the account), which leave its window within one: then each image accepted adds
    one back, and the allowance doubles each window. (By one image per window, one early 429 at a
    limit of 1,000 left 13,000 images in two hours, and a rerun's 429s held it to a tenth.)"""

    def __init__(self, limit: float, *, window: float = MINUTE) -> None:
        super().__init__(limit, window=window)
        self.maximum = float(limit)
        self._others = False  # the last 429 came beside less than half the limit's images

    def accepted(self, ticket: Ticket, now: float) -> None:
        super().accepted(ticket, now)
        if self._was_beside_429(ticket, now):
            self.limit = min(self.maximum, max(self.limit, self.allowed_at_429))
        elif self.limit < self.maximum:
            step = ticket.cost if self._others else ticket.cost / max(self.limit, 1.0)
            self.limit = min(self.maximum, self.limit + step)

    def rejected(self, ticket: Ticket, now: float, retry_after: float | None) -> None:
        super().rejected(ticket, now, retry_after)
        allowed = self.allowed_at_429
        self._others = allowed < self.maximum / 2
        self.limit = max(1.0, min(self.limit, allowed) if allowed else self.limit / 2)


class AdaptivePacer(Pacer):
    """The limit is unknown: learn it from the API's answers.

    - Slow start: begin at `start` images per window; every accepted image raises the allowance by one
      while the allowance is what holds us back, so it doubles each window until the first 429.
    - On a 429: the images accepted within the last window are what the server allowed; that count is
      the ceiling, and the allowance drops to just under it (`ceiling - 1`, at least `minimum`), not to
      half as in textbook AIMD: halving would average 75 % of the limit.
    - Then additive increase: +1 image per window's worth of accepted images, and only +1/4 once at or
      above the ceiling, so the limit is probed again about every 4 windows, costing one 429 or so.
    - A 429 with nothing accepted in the window (the limit is shared, or lower than we thought) halves
      the allowance. Every 429 also pauses sends for its `Retry-After`.
    - POSTs still in flight when a 429 comes (sent just before it, or answered but not yet counted) may
      have been accepted in that same window: each that is raises the ceiling that 429 set, and the
      allowance with it (`allowed_at_429`). Counted short, the ceiling would hold the rate under the
      limit for many windows, as the probe above it climbs by a quarter per window.
    """

    def __init__(
        self, *, start: float = 10.0, minimum: float = 1.0, window: float = MINUTE, probe: float = 0.25
    ) -> None:
        super().__init__(start, window=window)
        self.minimum = minimum
        self.probe = probe
        self.ceiling: float | None = None

    def accepted(self, ticket: Ticket, now: float) -> None:
        limited = self.in_window(now) + ticket.cost >= self.allowance()  # we were using it all
        super().accepted(ticket, now)
        if self._was_beside_429(ticket, now):
            self.ceiling = self.allowed_at_429
            self.limit = max(self.limit, self.ceiling - 1.0)
            return
        if not limited:
            return
        if self.ceiling is None:
            self.limit += ticket.cost  # slow start
        else:
            step = self.probe if self.limit >= self.ceiling else 1.0
            self.limit += step * ticket.cost / max(self.limit, 1.0)

    def rejected(self, ticket: Ticket, now: float, retry_after: float | None) -> None:
        super().rejected(ticket, now, retry_after)
        allowed = self.allowed_at_429
        if allowed >= 1:
            self.ceiling = allowed
            self.limit = max(self.minimum, min(self.limit, allowed - 1.0))
        else:
            self.limit = max(self.minimum, self.limit / 2)
