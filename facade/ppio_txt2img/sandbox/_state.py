"""Everything one sandbox holds: configuration, clock, dice, tasks, storage, webhooks and counters."""

from __future__ import annotations

from dataclasses import dataclass

from ._config import SandboxConfig
from ._faults import Dice
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
    ratelimit: ImageRateLimiter

    @classmethod
    def create(cls, config: SandboxConfig) -> SandboxState:
        clock = Clock()
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
            webhooks=WebhookDispatcher(config),
            transports=TransportRegistry(),
            ratelimit=ImageRateLimiter(config.ipm, config.minute),
        )
