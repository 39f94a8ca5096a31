"""Fixtures of the facade tests: a scripted API (`api`), a fake clock (`clock`), client factories
(`make_client`, `make_async_client`) wired to both, and the async backends (`anyio_backend`). The
helpers they use live in `facade_helpers.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.facade.facade_helpers import (
    AsyncClientFactory,
    ClientFactory,
    FakeClock,
    ScriptedAPI,
    async_client_for,
    client_for,
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs once under asyncio and once under trio (`anyio.run(main, backend=...)`):
    the async client supports both, through anyio."""
    backend: str = request.param
    return backend


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> ScriptedAPI:
    return ScriptedAPI(clock)


@pytest.fixture
def make_client(api: ScriptedAPI, clock: FakeClock) -> Iterator[ClientFactory]:
    """`make_client(**kwargs)`: a `Client` on the scripted API and the fake clock (closed after the test)."""
    with ExitStack() as stack:
        yield lambda **kwargs: stack.enter_context(client_for(api, clock, **kwargs))


@pytest.fixture
def make_async_client(api: ScriptedAPI, clock: FakeClock) -> AsyncClientFactory:
    """`async with make_async_client(**kwargs) as client:` an `AsyncClient` on the scripted API and the
    fake clock."""
    return lambda **kwargs: async_client_for(api, clock, **kwargs)
