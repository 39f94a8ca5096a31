"""Helpers of the picture tests: images of one solid colour, and a `Generation` made of them."""

from __future__ import annotations

from io import BytesIO

from PIL import Image

import ppio_txt2img as ppio

TASK_ID = "3f6c2a9e-task-<&>"  # odd characters: every text must come out escaped
RED, GREEN, BLUE, YELLOW, PURPLE = (220, 30, 30), (30, 200, 60), (40, 70, 230), (240, 210, 20), (140, 40, 190)
COLOURS = (RED, GREEN, BLUE, YELLOW, PURPLE)


def solid(colour: tuple[int, ...], size: tuple[int, int] = (300, 200), fmt: str = "png") -> bytes:
    """An image of one colour (RGBA when `colour` has four values)."""
    out = BytesIO()
    Image.new("RGBA" if len(colour) == 4 else "RGB", size, colour).save(out, format=fmt.upper())
    return out.getvalue()


def generated(data: bytes, index: int = 0, task_id: str = TASK_ID) -> ppio.GeneratedImage:
    with Image.open(BytesIO(data)) as image:
        fmt, size, mode = (image.format or "png").lower(), image.size, image.mode
    return ppio.GeneratedImage(task_id, index, data, fmt, size, mode, "https://img.test/x.png", None)


def generation(*images: bytes, seed: int | None = 1234, task_id: str = TASK_ID) -> ppio.Generation:
    return ppio.Generation(
        task_id,
        seed,
        tuple(generated(data, i, task_id) for i, data in enumerate(images)),
        ppio.Task(task_id, ppio.TaskStatus.SUCCEED, seed=seed),
    )


def decode(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    image.load()
    return image
