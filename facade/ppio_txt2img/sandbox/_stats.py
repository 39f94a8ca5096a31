"""Counters of what the sandbox answered, per endpoint, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: Requests outside the API and storage paths (unknown path, wrong method) are counted here.
OTHER = "other"


@dataclass(frozen=True)
class EndpointStats:
    """How one endpoint was used: requests received, responses sent by status, connections dropped."""

    requests: int
    responses: Mapping[int, int]
    dropped: int

    def count(self, status: int) -> int:
        """Responses sent with this status."""
        return self.responses.get(status, 0)


class StatsRecorder:
    """Thread-safe counters; `snapshot()` returns an immutable copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._responses: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self._dropped: Counter[str] = Counter()
        self._storage_with_authorization = 0
        self._by_host: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._other_host_with_authorization = 0

    def request(self, endpoint: str) -> None:
        with self._lock:
            self._requests[endpoint] += 1

    def arrived(self, host: str, endpoint: str, *, other_host: bool, authorization: bool) -> None:
        """A request to `endpoint` reached `host` ("host:port"), maybe the other host, maybe with a key."""
        with self._lock:
            self._by_host[host][endpoint] += 1
            if other_host and authorization:
                self._other_host_with_authorization += 1

    def response(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._responses[endpoint][status] += 1

    def dropped(self, endpoint: str) -> None:
        with self._lock:
            self._dropped[endpoint] += 1

    def storage_authorization(self) -> None:
        with self._lock:
            self._storage_with_authorization += 1

    @property
    def storage_requests_with_authorization(self) -> int:
        with self._lock:
            return self._storage_with_authorization

    @property
    def other_host_requests_with_authorization(self) -> int:
        with self._lock:
            return self._other_host_with_authorization

    def by_host(self) -> Mapping[str, Mapping[str, int]]:
        """Requests per host ("host:port"), per endpoint; a snapshot."""
        with self._lock:
            return MappingProxyType(
                {host: MappingProxyType(dict(counts)) for host, counts in self._by_host.items()}
            )

    def snapshot(self, endpoints: tuple[str, ...]) -> Mapping[str, EndpointStats]:
        with self._lock:
            names = dict.fromkeys((*endpoints, *self._requests))
            return MappingProxyType(
                {
                    name: EndpointStats(
                        requests=self._requests[name],
                        responses=MappingProxyType(dict(self._responses[name])),
                        dropped=self._dropped[name],
                    )
                    for name in names
                }
            )
