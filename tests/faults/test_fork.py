"""A sync `Client` made before a fork (a web server's master, a `multiprocessing` pool's parent) and used
in the forked processes: each process sends on connections of its own, never on the pool's connections
it inherited, which are the parent's sockets too (two processes writing on one connection read each
other's answers: a wait got another task's result). And an answer about another task than the one asked
about is refused, whatever the cause, on every client: its images are someone else's.

Real processes (`os.fork`), a raw server on loopback that reports which connection each request came on.
"""

from __future__ import annotations

import json
import os
import select
from collections.abc import Callable

import anyio
import pytest

import ppio_txt2img as ppio
from tests.faults.raw_server import Fault, FaultKit

#: A forked child that has not reported in this long has hung (never reached in a passing run).
CHILD_LIMIT = 60.0


def _in_child(work: Callable[[], object]) -> object:
    """Run `work` in a forked process; what it returned (JSON). The error it raised fails the test."""
    return _reported(*_forked(work))


def _forked(work: Callable[[], object]) -> tuple[int, int]:
    """Start `work` in a forked process: its pid, and the pipe it reports on."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave at once (no atexit, no pytest teardown of the parent's)
        os.close(read)
        try:
            outcome: object = {"value": work()}
        except BaseException as exc:  # reported to the parent, which fails the test with it
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write, json.dumps(outcome).encode())
        os._exit(0)
    os.close(write)
    return pid, read


def _reported(pid: int, read: int) -> object:
    """What the forked process `pid` reported on `read` (waited for, up to `CHILD_LIMIT`)."""
    try:
        ready, _, _ = select.select([read], [], [], CHILD_LIMIT)
        assert ready, "the forked process did not report"
        data = b""
        while chunk := os.read(read, 65536):
            data += chunk
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    reported: dict[str, object] = json.loads(data)
    assert "error" not in reported, reported["error"]
    return reported["value"]


def _looked_at(client: ppio.Client, task: str) -> str:
    """ "closed" if looking at `task` found the client closed, else "sent"."""
    try:
        client.get_task(task)
    except ppio.ClientClosedError:
        return "closed"
    return "sent"


def test_a_forked_process_sends_on_connections_of_its_own_and_the_parent_keeps_its_own(kit: FaultKit) -> None:
    with ppio.Client("sk-test", base_url=kit.url) as client:
        tasks = [client.submit("a red fox").id for _ in range(2)]
        client.get_task(tasks[0])  # a kept-alive connection now sits in the pool
        parents = {seen.connection for seen in kit.seen()}

        def look() -> list[str]:
            return [client.get_task(tasks[1]).id for _ in range(3)]

        assert _in_child(look) == [tasks[1]] * 3
        childs = {seen.connection for seen in kit.seen("result")[1:]}
        assert client.get_task(tasks[0]).id == tasks[0]  # the parent, after the child: its own pool
        after = kit.seen("result")[-1].connection
    assert len(parents) == 1
    assert childs.isdisjoint(parents), (parents, childs)
    assert after in parents


def test_closing_the_client_in_a_forked_process_leaves_the_parents_connections_open(kit: FaultKit) -> None:
    with ppio.Client("sk-test", base_url=kit.url) as client:
        task = client.submit("a red fox").id
        client.get_task(task)

        def close_then_call() -> str:
            client.close()
            return _looked_at(client, task)

        assert _in_child(close_then_call) == "closed"
        before = {seen.connection for seen in kit.seen()}
        assert client.get_task(task).id == task
        assert kit.seen("result")[-1].connection in before  # its kept-alive connection still works


def test_a_client_closed_before_the_fork_stays_closed_in_the_forked_process(kit: FaultKit) -> None:
    client = ppio.Client("sk-test", base_url=kit.url)
    task = client.submit("a red fox").id
    client.close()

    assert _in_child(lambda: _looked_at(client, task)) == "closed"
    assert kit.seen("result") == []


def test_workers_forked_from_one_client_each_get_their_own_tasks(kit: FaultKit) -> None:
    with ppio.Client("sk-test", base_url=kit.url, timeout=20) as client:
        tasks = [client.submit(f"prompt {i}").id for i in range(4)]
        client.get_task(tasks[0])

        def looks(task: str) -> Callable[[], object]:
            return lambda: [client.get_task(task).id for _ in range(5)]

        children = [_forked(looks(task)) for task in tasks]  # all four at once, five looks each
        answers = [_reported(pid, read) for pid, read in children]
    assert answers == [[task] * 5 for task in tasks]


@pytest.mark.parametrize("library", ["sync", "asyncio", "trio"])
def test_an_answer_about_another_task_is_refused_naming_both(kit: FaultKit, library: str) -> None:
    kit.on("result", Fault(set_fields={"task.task_id": "someone-elses-task"}))

    def sync() -> ppio.Task:
        with ppio.Client("sk-test", base_url=kit.url) as client:
            return client.get_task(client.submit("a red fox"))

    async def in_async() -> ppio.Task:
        async with ppio.AsyncClient("sk-test", base_url=kit.url) as client:
            return await client.get_task(await client.submit("a red fox"))

    call: Callable[[], object] = sync if library == "sync" else lambda: anyio.run(in_async, backend=library)
    with pytest.raises(ppio.APIResponseValidationError) as caught:
        call()
    error = caught.value
    assert error.task_id is not None
    assert error.task_id != "someone-elses-task"
    assert (
        f"the answer is about task 'someone-elses-task', not the task asked about ({error.task_id!r})"
        in str(error)
    )
    assert error.status_code == 200
