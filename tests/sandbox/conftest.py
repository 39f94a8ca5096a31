"""Fixtures for the sandbox tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.sandbox.sandbox_helpers import Receiver


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[Callable[[int], tuple[int, float]]], Receiver]]:
    started: list[Receiver] = []

    def start(answer: Callable[[int], tuple[int, float]]) -> Receiver:
        receiver = Receiver(answer).__enter__()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.__exit__()
