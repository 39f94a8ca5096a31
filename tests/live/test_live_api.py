"""Against the real API. Skipped unless PPIO_API_KEY is set: these spend credits and need the network.

PPIO_API_KEY=... [PPIO_BASE_URL=https://api.novita.ai] .venv/bin/pytest -m live tests/live
"""

from __future__ import annotations

import itertools
import os

import pytest

import ppio_txt2img as ppio

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not os.environ.get("PPIO_API_KEY"),
        reason="live API test: set PPIO_API_KEY to run it (it talks to the real API and spends credits)",
    ),
]


@pytest.fixture
def client() -> ppio.Client:
    return ppio.Client(timeout=180)


def test_a_small_image_comes_back_decoded_at_the_asked_size(client: ppio.Client) -> None:
    with client:
        generation = client.txt2img("a red fox in snow", width=512, height=512, steps=10, seed=42)
    assert generation.task_id
    assert generation.seed == 42
    [image] = generation.images
    assert image.size == (512, 512)
    assert image.format == "png"


def test_the_model_list_has_checkpoints(client: ppio.Client) -> None:
    with client:
        models = list(itertools.islice(client.models(types="checkpoint", page_size=20), 40))
    assert models
    assert all(m.sd_name for m in models)


def test_an_unknown_task_is_not_found(client: ppio.Client) -> None:
    with client, pytest.raises(ppio.NotFoundError) as caught:
        client.get_task("00000000-0000-4000-8000-000000000000")
    assert caught.value.status_code == 404
