"""Everything one sandbox holds: configuration, clock, dice, tasks, storage, webhooks, counters, hosts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._config import SandboxConfig
from ._faults import Dice
from ._hosts import Hosts
from ._ratelimit import ImageRateLimiter
from ._server import TransportRegistry
from ._stats import StatsRecorder
from ._storage import ImageCache, UrlSigner
from ._tasks import Clock, ResultRenderer, TaskBook
from ._webhooks import WebhookDispatcher


@dataclass(frozen=True)
class SandboxState:
    config: SandboxConfig
    clock: Clock
    dice: Dice
    tasks: TaskBook
    signer: UrlSigner
    renderer: ResultRenderer
    images: ImageCache
    stats: StatsRecorder
    webhooks: WebhookDispatcher
    transports: TransportRegistry
    hosts: Hosts
    ratelimit: ImageRateLimiter

    @classmethod
    def create(cls, config: SandboxConfig, monotonic: Callable[[], float] | None = None) -> SandboxState:
        """A fresh state; `monotonic` (default `time.monotonic`) is the clock of every timeline."""
        clock = Clock(monotonic)
        dice = Dice(config)
        signer = UrlSigner(dice.token(32))
        return cls(
            config=config,
            clock=clock,
            dice=dice,
            tasks=TaskBook(config, clock, dice),
            signer=signer,
            renderer=ResultRenderer(config, clock, dice, signer),
            images=ImageCache(),
            stats=StatsRecorder(),
            webhooks=WebhookDispatcher(config, clock),
            transports=TransportRegistry(),
            hosts=Hosts(),
            ratelimit=ImageRateLimiter(config.ipm, config.minute),
        )
