"""`to_dict()` of what calls return: JSON-ready, without image bytes or URL signatures."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ppio_txt2img as ppio
from ppio_txt2img._results import ImageRef

SIGNED = "https://images.test.invalid/task/0.png?X-Amz-Signature=secret&X-Amz-Expires=3600#frag"
EXPIRES = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def image(index: int = 0, nsfw: ppio.NsfwResult | None = None) -> ppio.GeneratedImage:
    return ppio.GeneratedImage(
        task_id="t-1",
        index=index,
        data=b"\x89PNG" + b"\0" * 96,
        format="png",
        size=(256, 128),
        mode="RGBA",
        url=SIGNED,
        expires_at=EXPIRES,
        nsfw=nsfw,
    )


def test_a_generated_image_is_described_without_its_bytes_or_its_url_signature() -> None:
    described = image(1).to_dict()

    assert described == {
        "index": 1,
        "format": "png",
        "width": 256,
        "height": 128,
        "bytes": 100,
        "url": "https://images.test.invalid/task/0.png",
    }
    assert "secret" not in json.dumps(described)


def test_the_nsfw_result_appears_only_when_detection_ran() -> None:
    assert "nsfw" not in image().to_dict()
    assert image(nsfw=ppio.NsfwResult(valid=True, confidence=12.5)).to_dict()["nsfw"] == {
        "valid": True,
        "confidence": 12.5,
    }
    assert image(nsfw=ppio.NsfwResult(None, None)).to_dict()["nsfw"] == {"valid": None, "confidence": None}


def test_a_generation_lists_its_images_in_order() -> None:
    task = ppio.Task(id="t-1", status=ppio.TaskStatus.SUCCEED, seed=7)
    generation = ppio.Generation(task_id="t-1", seed=7, images=(image(0), image(1)), task=task)

    described = generation.to_dict()

    assert described["task_id"] == "t-1"
    assert described["seed"] == 7
    assert [i["index"] for i in described["images"]] == [0, 1]
    assert json.loads(json.dumps(described)) == described


def test_a_task_is_json_ready_with_unsigned_urls_and_iso_expiry() -> None:
    refs = (ImageRef(url=SIGNED, image_type="png", expires_at=EXPIRES), ImageRef(SIGNED, None, None))
    task = ppio.Task(
        id="t-2",
        status="TASK_STATUS_SOMETHING_NEW",
        progress=40.0,
        eta=3.0,
        task_type="TXT_TO_IMG",
        images=refs,
    )

    described = task.to_dict()

    assert described == {
        "task_id": "t-2",
        "status": "TASK_STATUS_SOMETHING_NEW",
        "progress": 40.0,
        "eta": 3.0,
        "reason": None,
        "task_type": "TXT_TO_IMG",
        "seed": None,
        "images": [
            {
                "url": "https://images.test.invalid/task/0.png",
                "image_type": "png",
                "expires_at": EXPIRES.isoformat(),
            },
            {"url": "https://images.test.invalid/task/0.png", "image_type": None, "expires_at": None},
        ],
    }
    assert json.loads(json.dumps(described)) == described


def test_a_model_is_json_ready_and_leaves_out_the_raw_entry() -> None:
    model = ppio.Model(
        id=1,
        name="SDXL",
        sd_name="sd_xl_base_1.0.safetensors",
        sd_name_in_api=None,
        type="checkpoint",
        is_sdxl=True,
        base_model="SDXL 1.0",
        status=1,
        tags=("photo", {"odd": 1}),
        raw={"cover_url": "https://example.invalid/c.png?token=x"},
    )

    described = model.to_dict()

    assert described == {
        "id": 1,
        "name": "SDXL",
        "sd_name": "sd_xl_base_1.0.safetensors",
        "sd_name_in_api": None,
        "type": "checkpoint",
        "is_sdxl": True,
        "base_model": "SDXL 1.0",
        "status": 1,
        "tags": ["photo", {"odd": 1}],
    }
    assert json.loads(json.dumps(described)) == described


@pytest.mark.parametrize(
    ("task_id", "name"),
    [
        ("f10333f2-2dd7-4f56-a177-e3c02a774d9a", "f10333f2-2dd7-4f56-a177-e3c02a774d9a-0.png"),
        ("../../../escaped", "_._.._.._escaped-0.png"),
        ("/etc/passwd", "_etc_passwd-0.png"),
        ("..", "_.-0.png"),
        ("a\\b:c", "a_b_c-0.png"),
        (".hidden", "_hidden-0.png"),
    ],
)
def test_saving_into_a_directory_never_writes_outside_it_whatever_the_task_id(
    tmp_path: Path, task_id: str, name: str
) -> None:
    """The task id comes from the server: a gateway answering `../../x` must not pick where files go."""
    inside = tmp_path / "a" / "b" / "out"
    saved = replace(image(), task_id=task_id).save(f"{inside}/")
    assert saved == inside / name
    assert saved.read_bytes() == image().data
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        f"a/b/out/{name}"
    ]
