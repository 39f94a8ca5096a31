"""Tasks as flows: submit (never resent unless no task can exist), one look, and the adaptive wait."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ._adapter import (
    create_task_request,
    enveloped_task_id,
    parse_created_task_id,
    parse_task,
    task_result_request,
)
from ._call import Deadline, Expired, Settings, Tracker
from ._constants import MAX_BAD_RESULTS_IN_A_ROW
from ._crowds import Crowds, Member
from ._durations import least_spread
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    RateLimitError,
    ServerError,
    TaskFailedError,
)
from ._http import api_call, went_out
from ._inputs import ProgressCallback
from ._io import Flow, Notify, Sleep
from ._polling import Estimate, Observation, blind_delay, next_poll_delay
from ._request_body import merge_extra_body
from ._results import Task, TaskStatus
from ._retry import backoff_delay, honoured
from ._submissions import Submitted
from ._wakeups import Waiter

#: Seconds kept in hand for a last poll when the deadline is near.
_LAST_LOOK = 0.25


def submit_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    body: Mapping[str, Any],
    extra_body: Mapping[str, Any] | None = None,
) -> Flow[str]:
    """Create the task (the POST is resent only when no task can have been created). `extra_body` is
    merged into the JSON as built from the validated `body`, unchecked."""
    tracker.last_status, tracker.submitting = "submitting", True
    request = create_task_request(body)
    if extra_body:
        request = replace(request, json=merge_extra_body(request.json, extra_body))
    try:
        task_id = yield from api_call(
            settings, deadline, request, lambda reply: parse_created_task_id(reply.content), idempotent=False
        )
    except APIResponseValidationError as exc:
        enveloped = enveloped_task_id(exc.body) if exc.task_id is None else None
        if enveloped is None:
            raise
        tracker.created(enveloped)
        raise _enveloped(exc, enveloped) from None
    tracker.created(task_id)
    return task_id


def _enveloped(exc: APIResponseValidationError, task_id: str) -> APIResponseValidationError:
    """The error of a create answer in the API's V2 envelope: still not what the spec says (the answer
    is not taken as a success), but the task it names was created and is the caller's to wait for."""
    return APIResponseValidationError(
        f"POST /v3/async/txt2img: the answer is in the API's old V2 envelope ({{code, msg, data}}), not "
        f"the V3 answer the spec describes; it names task {task_id}, which was created: wait for it "
        f"(client.wait({task_id!r})) rather than submitting again",
        status_code=exc.status_code,
        body=exc.body,
        task_id=task_id,
    )


def get_task_flow(settings: Settings, deadline: Deadline, task_id: str) -> Flow[Task]:
    """One look at the task."""
    task, _ = yield from _dated_look(settings, deadline, task_id)
    return task


def _dated_look(settings: Settings, deadline: Deadline, task_id: str) -> Flow[tuple[Task, float]]:
    """One look at the task, and when the poll that got the answer went out (`went_out`)."""
    return (
        yield from api_call(
            settings,
            deadline,
            task_result_request(task_id),
            lambda reply: (parse_task(reply.content, settings.now(), task_id), went_out(reply)),
            idempotent=True,
            task_id=task_id,
        )
    )


_TRANSIENT = (APIConnectionError, RateLimitError, ServerError, APIResponseValidationError)


class FailedLooks:
    """A run of looks at a task that failed even after their retries (`_TRANSIENT`), as a wait rides it
    out: none ends it (the deadline does), except answers that do not parse, `MAX_BAD_RESULTS_IN_A_ROW`
    of them, since waiting cannot mend a server."""

    def __init__(self) -> None:
        self.failures = self.bad_answers = 0

    def next_delay(self, exc: Exception, settings: Settings, deadline: Deadline) -> float:
        """Count `exc` (one of `_TRANSIENT`): the seconds to wait before the next look. Raises `exc` at the
        last bad answer allowed, and `Expired` when the deadline comes first."""
        self.failures += 1
        if isinstance(exc, APIResponseValidationError):
            self.bad_answers += 1
            if self.bad_answers >= MAX_BAD_RESULTS_IN_A_ROW:
                exc.add_note(f"ppio_txt2img: {self.bad_answers} task results in a row did not parse")
                raise exc
        else:
            self.bad_answers = 0
        delay = backoff_delay(min(self.failures, 4), settings.rng)
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            # The server's word on when to come back (capped as a request's retry is): no look before
            # it; if it is past the deadline, no look is left to make.
            delay = max(delay, honoured(exc.retry_after))
            if delay >= deadline.remaining():
                raise Expired(f"the API asked for no request in the next {delay:g} s") from exc
        try:  # up to the deadline's last look: a wait that ends on failing looks ends at its deadline
            return _bounded(delay, deadline)
        except Expired:
            raise Expired from exc


def patient_look_flow(settings: Settings, deadline: Deadline, task_id: str) -> Flow[Task]:
    """One look at the task, riding out failed looks as a wait does (`FailedLooks`): what a download
    refreshing an expired URL takes, with the same tolerance as the wait that came before it."""
    failed = FailedLooks()
    while True:
        try:
            return (yield from get_task_flow(settings, deadline, task_id))
        except _TRANSIENT as exc:
            yield Sleep(failed.next_delay(exc, settings, deadline))


def wait_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    task_id: str,
    on_progress: ProgressCallback | None = None,
    submitted: Submitted | None = None,
) -> Flow[Task]:
    """Poll until the task succeeds (returned) or fails (`TaskFailedError`), on the adaptive schedule.

    A poll that fails even after its retries does not end the wait (the deadline does), except answers
    that do not parse: `MAX_BAD_RESULTS_IN_A_ROW` of them end it, since waiting cannot mend a server.
    `submitted`: a task this client submitted is only queued at first, so its first poll waits until
    `POLL_FIRST_AFTER_SUBMIT` after its POST's answer, or until the window around the finish that tasks of
    its shape took; a wait begun later than that polls at once, and learns nothing from a task it finds
    done without having seen it running.
    With a webhook receiver (`settings.wakeups`), the wait sleeps until the task's webhook wakes it (then
    confirms with one poll), polling every `fallback_poll` seconds in case none comes; a task this client
    did not submit (its webhook may go anywhere, or nowhere), or any once the receiver's own servers have
    all ended, is polled on what its answers tell, as without a receiver, a webhook only cutting a sleep
    short. Otherwise the wait is one of a crowd (see `_crowds.py`), perhaps alone.
    """
    tracker.task_id = task_id
    # A webhook can wake this wait unless the task's went elsewhere (as `submit()` says, when it knows).
    elsewhere = submitted is not None and submitted.webhook_url is None
    waiter = settings.wakeups.register(task_id) if settings.wakeups is not None and not elsewhere else None
    prior: Estimate | None = None
    member: Member | None = None
    # A wait begun after its first poll was due (a `wait()` long after `submit()`) may find its task long
    # done: how late it looked says nothing of how long the task took.
    late = submitted is not None and settings.clock() > submitted.first_poll_at
    if submitted is not None:
        learnt = settings.durations.prior(submitted.shape)
        if learnt is not None:
            prior = Estimate(finish=submitted.at + learnt.duration, error=learnt.spread)
        if waiter is None and submitted.crowd and not late:
            member = settings.crowds.join(submitted.shape, submitted.at)
    try:
        flow = _wait(
            settings, deadline, tracker, task_id, on_progress, submitted, waiter, prior, member, late=late
        )
        return (yield from flow)
    finally:
        if member is not None:
            settings.crowds.leave(member)
        if waiter is not None and settings.wakeups is not None:
            settings.wakeups.unregister(task_id, waiter)


def _webhook_pace(settings: Settings, waiter: Waiter | None, submitted: Submitted | None) -> float | None:
    """The receiver's `fallback_poll` when a wait sleeps for its task's webhook, polling only that often in
    case none comes (this client sent the task its receiver's URL, and the receiver still listens); None
    when the wait polls on the task's own schedule."""
    wakeups = settings.wakeups
    if wakeups is None or waiter is None or submitted is None or not wakeups.listening:
        return None
    return wakeups.fallback_poll


def _webhook_missed(waiter: Waiter | None, submitted: Submitted | None) -> str | None:
    """Where the webhook went that a wait, having just found its task done, waited for in vain: this call
    submitted the task with a webhook URL, and no webhook came (None otherwise: a task submitted
    elsewhere may have been given no URL, or another one)."""
    if waiter is None or waiter.ever_notified or submitted is None:
        return None
    return submitted.webhook_url


def _bounded(delay: float, deadline: Deadline) -> float:
    """`delay`, cut to leave one last look just before the deadline; `Expired` if there is no time."""
    remaining = deadline.remaining()
    if delay >= remaining - _LAST_LOOK:
        if remaining <= _LAST_LOOK:
            raise Expired
        delay = remaining - _LAST_LOOK
    return delay


def _sleep(
    settings: Settings,
    deadline: Deadline,
    delay: float,
    waiter: Waiter | None,
    member: Member | None,
    lone: float | None = None,
) -> Flow[None]:
    """Sleep before the next poll; a crowd's wait no later than when its task is as old as the youngest
    of its crowd's finished tasks was (see `_crowds.py`), woken when one finishes; if it was seen running
    older than that, for `lone` seconds from the start of the sleep (a lone wait's delay: the crowd's
    pace is over)."""
    bounded = _bounded(delay, deadline)
    if member is None:
        yield Sleep(bounded, waiter)
        return
    crowds = settings.crowds
    started = settings.clock()
    planned = started + bounded
    woken = False
    while True:
        age = crowds.hint(member)  # also before the first sleep: a crowd's finish may be known already
        if age is not None:
            planned = min(planned, member.done_by(age))
        elif woken and lone is not None:
            planned = min(planned, started + lone)
        if settings.clock() >= planned:
            return
        alone = crowds.plan(member, next_poll=planned) <= 1  # nobody to wake it: the driver's own sleep
        woken = yield Sleep(max(0.0, planned - settings.clock()), None if alone else member.waiter)
        if not woken:
            return


def _hint_estimate(crowds: Crowds, member: Member) -> Estimate | None:
    """When the task should finish, from the age at which one of its crowd was seen done."""
    age = crowds.hint(member)
    if age is None:
        return None
    return Estimate(finish=member.done_by(age), error=least_spread(age))


def _first_sleep(
    settings: Settings,
    deadline: Deadline,
    submitted: Submitted,
    waiter: Waiter | None,
    prior: Estimate | None,
    member: Member | None,
) -> Flow[None]:
    """Sleep before the first poll of a task this client submitted: until `POLL_FIRST_AFTER_SUBMIT` after
    its POST was answered at least; with a learnt duration, until its window (a crowd's scouts, or a lone
    wait), or until its end (the rest of a crowd, which a scout's finish wakes); with webhooks,
    `fallback_poll`. Counted from the answer, not from the wait's start: `wait()` may come long after
    `submit()`."""
    if (pace := _webhook_pace(settings, waiter, submitted)) is not None:
        yield Sleep(min(pace, max(0.0, deadline.remaining() - _LAST_LOOK)), waiter)
        return
    now = settings.clock()
    earliest = submitted.first_poll_at - now
    if prior is not None and member is not None and not member.scout:
        yield from _sleep(settings, deadline, max(earliest, prior.finish + prior.error - now), None, member)
        return
    first = earliest
    if prior is not None:
        first = max(first, next_poll_delay([], now=now, jitter=settings.rng(), prior=prior))
    yield Sleep(max(0.0, min(first, deadline.remaining() - _LAST_LOOK)), waiter)


def _wait(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    task_id: str,
    on_progress: ProgressCallback | None,
    submitted: Submitted | None,
    waiter: Waiter | None,
    prior: Estimate | None,
    member: Member | None,
    late: bool = False,
) -> Flow[Task]:
    history: list[Observation] = []
    lone: float | None = None
    last_seen: tuple[object, ...] | None = None
    if submitted is not None and not late:  # a late wait polls at once: its first poll is overdue
        yield from _first_sleep(settings, deadline, submitted, waiter, prior, member)
    # The last moment the task is known not to have finished: its submission, unless the wait began late
    # (then only a poll that sees it running tells); None: nothing to learn a duration from.
    running_seen_at = submitted.at if submitted is not None and not late else None
    failed = FailedLooks()
    while True:
        if waiter is not None:
            waiter.clear()  # a webhook that came before this poll is answered by it
        try:
            task, asked = yield from _dated_look(settings, deadline, task_id)
        except _TRANSIENT as exc:
            yield Sleep(failed.next_delay(exc, settings, deadline))
            continue
        read = settings.clock()
        failed = FailedLooks()
        tracker.last_status = task.status
        seen = (task.status, task.progress, task.eta)
        if on_progress is not None and seen != last_seen:
            yield Notify(on_progress, task)
        last_seen = seen
        now = settings.clock()
        if task.done and settings.wakeups is not None and (sent := _webhook_missed(waiter, submitted)):
            settings.wakeups.missed(task_id, sent)
        if task.status == TaskStatus.SUCCEED:  # done by the time its answer was read, at the latest
            if submitted is not None and running_seen_at is not None:
                settings.durations.record(
                    submitted.shape, submitted_at=submitted.at, lower=running_seen_at, upper=read
                )
            if member is not None:
                settings.crowds.finished(member, read - member.submitted_at)
            return task
        if task.status == TaskStatus.FAILED:
            raise TaskFailedError(task_id, task.reason or "")
        running_seen_at = asked  # so it finishes after this poll went out
        # The server read its clock between the poll going out and its answer being read: dated at the
        # middle (as a submission is). With many requests at once, an answer can wait in this client's
        # event loop long after the server sent it; dated when read, every estimate would run that late.
        history.append(
            Observation(
                at=(asked + read) / 2,
                status=task.status,
                eta=task.eta or None,
                progress=task.progress or None,
            )
        )
        # A crowd's wait is woken by its crowd only while the server tells it nothing (an eta or a
        # progress is a better guide than a sibling's finish).
        blind = member if member is not None and not (task.eta or task.progress) else None
        if (pace := _webhook_pace(settings, waiter, submitted)) is not None:
            delay = pace
        elif member is not None:
            settings.crowds.saw_running(member, asked - member.submitted_at)
            jitter, guide = settings.rng(), _hint_estimate(settings.crowds, member) or prior
            delay = next_poll_delay(
                history, now=now, jitter=jitter, prior=guide, crowd=settings.crowds.size(member.shape)
            )
            lone = next_poll_delay(history, now=now, jitter=jitter, prior=guide)
            if blind is not None and member.outlived:  # the next sibling's finish age may be far off
                pace = blind_delay(history, now=now, jitter=jitter)  # a lone blind wait's: no slower
                delay, lone = min(delay, pace), min(lone, pace)
        else:
            delay = next_poll_delay(history, now=now, jitter=settings.rng(), prior=prior)
        if member is not None and blind is None:
            settings.crowds.plan(member, next_poll=-math.inf)
        yield from _sleep(settings, deadline, delay, waiter, blind, lone)
