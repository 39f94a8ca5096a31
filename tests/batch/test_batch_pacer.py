"""The pacers on a fake clock, against the sandbox's own rate limiter as the server."""

from __future__ import annotations

import heapq
import itertools
import math
import random

import pytest

from ppio_txt2img.batch import AdaptivePacer, Pacer, Ticket, WindowPacer
from ppio_txt2img.sandbox._ratelimit import ImageRateLimiter

WINDOW = 60.0


def simulate(pacer: Pacer, limit: int, images: int, *, seed: int = 1, max_cost: int = 1) -> dict[str, float]:
    """Send `images` images through `pacer` to a server allowing `limit` per window, with random
    latencies (request and answer), one POST in flight at a time. All on a fake clock."""
    rng = random.Random(seed)
    server = ImageRateLimiter(limit, WINDOW)
    now, sent, posts, rejected = 0.0, 0, 0, 0
    accepted_at: list[tuple[float, int]] = []
    while sent < images:
        cost = min(rng.randint(1, max_cost), images - sent)
        delay = pacer.delay(cost, now)
        if delay > 0:
            now += delay
            continue
        ticket = pacer.sent(cost, now)
        posts += 1
        arrival = now + rng.uniform(0.001, 0.5)
        wait = server.acquire(cost, arrival)
        now = arrival + rng.uniform(0.001, 0.5)
        if wait is None:
            pacer.accepted(ticket, now)
            accepted_at.append((arrival, cost))
            sent += cost
        else:
            rejected += 1
            pacer.rejected(ticket, now, wait)
    return {"elapsed": now, "posts": posts, "rejected": rejected, "rate": images / now * WINDOW}


def simulate_concurrent(
    pacer: Pacer,
    limit: int,
    images: int,
    *,
    seed: int,
    in_flight: int = 16,
    commit: float = 0.3,
    others: int = 0,
) -> dict[str, float]:
    """As `simulate`, with up to `in_flight` POSTs at once, as a batch sends them: answers come back out
    of order (random latencies each way), and an accepted POST reaches the pacer only after up to
    `commit` seconds of the caller's bookkeeping (the batch journals its task id first), while a 429
    reaches it at once. The server answers 429 with a whole-second `Retry-After`, as the sandbox does.
    `others`: images the server counted at time 0 that the pacer never saw (the run before a rerun)."""
    rng = random.Random(seed)
    server = ImageRateLimiter(limit, WINDOW)
    if others:
        assert server.acquire(others, 0.0) is None
    answers: list[tuple[float, int, Ticket, float | None]] = []  # (when the pacer hears, order, ticket, wait)
    order = itertools.count()
    now, to_send, done, posts, rejected = 0.0, images, 0, 0, 0
    while done < images:
        delay = math.inf
        while to_send and len(answers) < in_flight and (delay := pacer.delay(1, now)) == 0:
            ticket = pacer.sent(1, now)
            posts, to_send = posts + 1, to_send - 1
            arrival = now + rng.uniform(0.001, 0.05)
            wait = server.acquire(1, arrival)
            heard = arrival + rng.uniform(0.001, 0.05) + (rng.uniform(0.0, commit) if wait is None else 0.0)
            heapq.heappush(answers, (heard, next(order), ticket, wait))
        if answers and (answers[0][0] <= now + delay or not to_send or len(answers) >= in_flight):
            now, _, ticket, wait = heapq.heappop(answers)
            if wait is None:
                pacer.accepted(ticket, now)
                done += 1
            else:
                pacer.rejected(ticket, now, max(1, math.ceil(wait)))
                rejected, to_send = rejected + 1, to_send + 1
        else:
            now += delay
    return {"elapsed": now, "posts": posts, "rejected": rejected, "rate": images / now * WINDOW}


def max_in_any_window(stamps: list[tuple[float, int]], window: float) -> int:
    return max(sum(c for t2, c in stamps if t <= t2 < t + window) for t, _ in stamps)


@pytest.mark.parametrize("max_cost", [1, 4])
def test_window_pacer_is_never_refused_by_a_server_with_the_same_limit(max_cost: int) -> None:
    result = simulate(WindowPacer(20), 20, 400, max_cost=max_cost)
    assert result["rejected"] == 0
    # And it uses the limit: 400 images at 20 per minute need 19 windows after the first burst.
    assert result["rate"] >= 0.9 * 20


def test_window_pacer_never_lets_more_than_the_limit_through_in_a_window() -> None:
    pacer = WindowPacer(10, window=WINDOW)
    now, stamps = 0.0, []
    rng = random.Random(3)
    for _ in range(200):
        cost = rng.randint(1, 3)
        while (delay := pacer.delay(cost, now)) > 0:
            now += delay
        ticket = pacer.sent(cost, now)
        stamps.append((now, cost))
        now += rng.uniform(0.0, 2.0)
        pacer.accepted(ticket, now)
    assert max_in_any_window(stamps, WINDOW) <= 10


def test_an_overstated_ipm_settles_at_what_the_server_allows() -> None:
    pacer = WindowPacer(30)
    result = simulate(pacer, 20, 800)
    assert result["rejected"] <= 0.10 * result["posts"], result
    assert result["rate"] >= 0.85 * 20, result
    assert pacer.allowance() <= 21


def test_a_429_pauses_every_send_for_its_retry_after() -> None:
    pacer = WindowPacer(100)
    ticket = pacer.sent(1, 0.0)
    pacer.rejected(ticket, 1.0, retry_after=7.0)
    assert pacer.delay(1, 1.0) == pytest.approx(7.0)
    assert pacer.delay(1, 8.0) == 0


def test_a_request_larger_than_the_limit_still_goes_through_an_empty_window() -> None:
    pacer = WindowPacer(4)
    assert pacer.delay(8, 0.0) == 0


def test_posts_in_flight_count_against_the_window() -> None:
    pacer = WindowPacer(2)
    pacer.sent(1, 0.0)
    pacer.sent(1, 0.0)
    assert pacer.delay(1, 0.0) > 0


def test_a_post_that_never_left_frees_its_images() -> None:
    pacer = WindowPacer(1)
    pacer.released(pacer.sent(1, 0.0))
    assert pacer.delay(1, 0.0) == 0


@pytest.mark.parametrize("limit", [5, 20, 100])
def test_adaptive_pacer_learns_the_limit_with_few_429s(limit: int) -> None:
    images = limit * 40
    result = simulate(AdaptivePacer(), limit, images, seed=limit)
    assert result["rate"] >= 0.85 * limit, result
    assert result["rejected"] <= 0.10 * result["posts"], result


def test_adaptive_pacer_settles_just_under_the_ceiling_it_saw() -> None:
    pacer = AdaptivePacer(start=10)
    simulate(pacer, 20, 800)
    assert pacer.ceiling is not None
    assert 18 <= pacer.ceiling <= 21
    assert 18 <= pacer.allowance() <= 21


def test_a_429_beside_posts_in_flight_raises_its_ceiling_by_those_accepted() -> None:
    pacer = AdaptivePacer(start=45)
    for _ in range(38):
        pacer.accepted(pacer.sent(1, 0.0), 1.0)
    first, second, refused = pacer.sent(1, 2.0), pacer.sent(1, 2.0), pacer.sent(1, 2.0)
    pacer.rejected(refused, 2.1, 1.0)  # answered before the two beside it, which the server took
    assert (pacer.ceiling, pacer.allowance()) == (38, 37)
    pacer.accepted(first, 2.2)
    pacer.accepted(second, 2.3)
    assert (pacer.ceiling, pacer.allowance()) == (40, 39)


def test_an_overstated_ipm_counts_the_posts_beside_its_429_in_what_the_server_allows() -> None:
    pacer = WindowPacer(50)
    for _ in range(38):
        pacer.accepted(pacer.sent(1, 0.0), 1.0)
    first, second, refused = pacer.sent(1, 2.0), pacer.sent(1, 2.0), pacer.sent(1, 2.0)
    pacer.rejected(refused, 2.1, 1.0)
    assert pacer.allowance() == 38
    pacer.accepted(first, 2.2)
    pacer.accepted(second, 2.3)
    assert (pacer.allowed_at_429, pacer.allowance()) == (40, 40)


@pytest.mark.parametrize("seed", range(3))
def test_an_overstated_ipm_with_many_posts_in_flight_keeps_to_the_servers_limit(seed: int) -> None:
    result = simulate_concurrent(WindowPacer(50), 40, 1600, seed=seed)
    assert result["rate"] >= 0.9 * 40, result
    assert result["rejected"] <= 0.03 * result["posts"], result


def test_a_post_beside_a_429_heard_accepted_after_its_pause_was_in_a_later_window() -> None:
    pacer = AdaptivePacer(start=30)
    for _ in range(20):
        pacer.accepted(pacer.sent(1, 0.0), 1.0)
    slow, refused = pacer.sent(1, 2.0), pacer.sent(1, 2.0)
    pacer.rejected(refused, 2.1, 58.0)  # no room until the window slides, at 60.1
    pacer.accepted(slow, 61.5)  # so the server took it then: in the next window, not beside the 429
    assert (pacer.ceiling, pacer.allowance()) == (20, 19)


def test_a_post_in_flight_that_is_refused_too_leaves_the_ceiling() -> None:
    pacer = AdaptivePacer(start=45)
    for _ in range(20):
        pacer.accepted(pacer.sent(1, 0.0), 1.0)
    beside, refused = pacer.sent(1, 2.0), pacer.sent(1, 2.0)
    pacer.rejected(refused, 2.1, 1.0)
    pacer.rejected(beside, 2.2, 1.0)
    assert (pacer.ceiling, pacer.allowance()) == (20, 19)


@pytest.mark.parametrize("seed", range(6))
def test_adaptive_pacer_with_many_posts_in_flight_learns_the_whole_limit(seed: int) -> None:
    limit = 40
    pacer = AdaptivePacer()
    result = simulate_concurrent(pacer, limit, limit * 40, seed=seed)
    assert result["rate"] >= 0.9 * limit, result
    assert result["rejected"] <= 0.05 * result["posts"], result
    assert pacer.ceiling is not None
    assert limit - 1 <= pacer.ceiling <= limit + 2, pacer.ceiling


def test_adaptive_pacer_halves_when_refused_with_nothing_accepted() -> None:
    pacer = AdaptivePacer(start=16)
    pacer.rejected(pacer.sent(1, 0.0), 0.0, None)
    assert pacer.allowance() == 8


@pytest.mark.parametrize("seed", range(3))
def test_a_rerun_that_meets_the_images_of_the_run_before_gets_back_to_its_ipm_within_a_few_windows(
    seed: int,
) -> None:
    """The server's window still holds 95 of the last run's 100 images: the rerun's first POSTs get
    429s beside few of its own images. Those images leave the window within one, and the allowance
    doubles back each window: 2,000 images take about 20 windows, not the 60 or more of regrowing by
    one image per window from the 5 it saw allowed (/tmp/attack24/batch, finding 4)."""
    result = simulate_concurrent(WindowPacer(100), 100, 2000, seed=seed, others=95)
    assert result["elapsed"] <= 24 * WINDOW, result
    assert result["rejected"] <= 0.02 * result["posts"], result


def test_an_outage_pauses_every_send_longer_each_time_and_an_accepted_post_ends_it() -> None:
    pacer = WindowPacer(100)
    pauses = []
    for now in (0.0, 10.0, 20.0, 30.0):
        pacer.outage(now)
        pauses.append(pacer.delay(1, now))
    assert pauses == [1.0, 2.0, 4.0, 8.0]
    pacer.outage(40.0, retry_after=30)  # the server's Retry-After, when longer
    assert pacer.delay(1, 40.0) == 30.0
    for _ in range(10):
        pacer.outage(100.0)
    assert pacer.delay(1, 100.0) == WINDOW  # never longer than a window
    ticket = pacer.sent(1, 200.0)
    pacer.accepted(ticket, 200.0)
    pacer.outage(200.0)
    assert pacer.delay(1, 200.0) == 1.0  # the API answered: the next outage starts over
