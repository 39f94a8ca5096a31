"""Which images are decoded on the event loop (small ones asked for) and which on a worker thread."""

from __future__ import annotations

from ppio_txt2img._downloads import decodes_inline


def test_small_images_asked_for_are_decoded_in_place_and_others_on_a_thread() -> None:
    assert decodes_inline((128, 128))
    assert decodes_inline((256, 256))
    assert not decodes_inline((512, 512))
    assert not decodes_inline((1024, 64))
    assert not decodes_inline(None)  # size unknown (`wait()`): it could be anything
