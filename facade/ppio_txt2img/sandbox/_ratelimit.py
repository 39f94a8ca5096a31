"""The account's rate limit: images per minute (IPM), counted over a sliding window.

The API limits image models in images per minute per account (20 IPM by default for txt2img_v3), so a
request for 8 images costs 8. A request past the limit is answered 429 `RATE_LIMIT_EXCEEDED` with a
`Retry-After` (whole seconds until enough of the window frees up) and creates no task.

`minute` is the length of the window in seconds (60 by default); benchmarks shrink it to run a
rate-limited batch on a sped-up clock. Pure: the caller passes the time.
"""

from __future__ import annotations

import math
import threading
from collections import deque

__all__ = ["ImageRateLimiter"]


class ImageRateLimiter:
    """At most `ipm` images in any `minute` seconds; None means no limit."""

    def __init__(self, ipm: int | None, minute: float = 60.0) -> None:
        self.ipm = ipm
        self.minute = minute
        self._accepted: deque[tuple[float, int]] = deque()  # (when, images), oldest first
        self._used = 0
        self._lock = threading.Lock()

    def acquire(self, images: int, now: float) -> float | None:
        """Count `images` at `now` and return None, or return the seconds until they would fit (nothing
        is counted then). A request larger than the whole limit waits for an empty window."""
        if self.ipm is None:
            return None
        with self._lock:
            self._expire(now)
            if self._used + images <= self.ipm or not self._accepted:
                self._accepted.append((now, images))
                self._used += images
                return None
            freed, need = 0, self._used + min(images, self.ipm) - self.ipm
            for when, count in self._accepted:
                freed += count
                if freed >= need:
                    return max(0.0, when + self.minute - now)
            return self.minute  # unreachable: everything in the window frees `_used`

    def retry_after_header(self, seconds: float) -> str:
        """`Retry-After` in whole seconds (the spec's type), rounded up: never too early."""
        return str(max(1, math.ceil(seconds)))

    def _expire(self, now: float) -> None:
        while self._accepted and self._accepted[0][0] <= now - self.minute:
            self._used -= self._accepted.popleft()[1]
