"""`Settings` for tests that drive flows by hand: an API at https://api.test with the key "k"."""

from __future__ import annotations

from typing import Any

from ppio_txt2img._call import Settings


def flow_settings(**overrides: Any) -> Settings:
    """The settings a client would make, with `overrides` (a clock, an rng, wakeups, ...)."""
    options: dict[str, Any] = {
        "base_url": "https://api.test",
        "api_key": "k",
        "max_retries": 2,
        "request_timeout": 60.0,
        "connect_timeout": 10.0,
        "max_image_bytes": 1 << 20,
    }
    return Settings(**(options | overrides))
