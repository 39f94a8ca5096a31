"""`ppio txt2img ... --sheet [PATH]`: the contact sheet saved beside the images, its path printed."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from tests.cli.cli_helpers import PPIO, Served

GAP = 8  # ppio_txt2img._pictures.SHEET_GAP


def test_sheet_with_the_sandbox_goes_to_out_task_id_sheet_png_and_each_cell_is_its_image(
    ppio: PPIO, tmp_path: Path
) -> None:
    run = ppio(
        "txt2img", "a red fox", "--sandbox", "--sandbox-speed", "50", "-o", str(tmp_path),
        "-n", "3", "--width", "256", "--height", "256", "--steps", "4", "--sheet",
    )  # fmt: skip
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert len(lines) == 4
    sheet_path = Path(lines[-1].split("  ")[0])
    task_id = re.fullmatch(r"(.+)-sheet\.png", sheet_path.name)
    assert task_id is not None
    assert sheet_path.parent == tmp_path
    with Image.open(sheet_path) as sheet:
        assert lines[-1] == f"{sheet_path}  {sheet.width}x{sheet.height}  contact sheet"
    images = [Path(line.split("  ")[0]) for line in lines[:3]]
    assert [p.name for p in images] == [f"{task_id[1]}-{i}.png" for i in range(3)]

    with Image.open(sheet_path) as sheet:
        assert sheet.format == "PNG"
        row = (sheet.height - GAP) // 2  # 3 images: 2 columns, 2 rows of tile + caption + gap
        assert sheet.size == (2 * 256 + 3 * GAP, 2 * row + GAP)
        for index, path in enumerate(images):
            r, c = divmod(index, 2)
            left, top = GAP + c * (256 + GAP), GAP + r * row
            cell = sheet.convert("RGB").crop((left, top, left + 256, top + 256))
            with Image.open(path) as image:  # 256 px fits the cell as it is: pixel for pixel
                assert cell.tobytes() == image.convert("RGB").tobytes()


def test_sheet_path_and_json(ppio: PPIO, served: Served, tmp_path: Path) -> None:
    target = tmp_path / "sheets" / "fox.jpg"
    run = ppio(
        "txt2img", "a fox", *served.connection(), "-o", str(tmp_path / "out"),
        "--width", "256", "--height", "128", "--steps", "4", "-n", "2", "--sheet", str(target), "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    result = run.json()
    with Image.open(target) as sheet:
        assert sheet.format == "JPEG"
        assert result["sheet"] == {"path": str(target), "width": sheet.width, "height": sheet.height}
        assert sheet.width == 2 * 256 + 3 * GAP


def test_a_sheet_format_pillow_cannot_write_exits_2_before_sending_anything(
    ppio: PPIO, served: Served, tmp_path: Path
) -> None:
    before = served.txt2img_requests()
    run = ppio("txt2img", "a fox", *served.connection(), "-o", str(tmp_path), "--sheet", "sheet.gif")
    assert run.code == 2
    assert "--sheet sheet.gif" in run.err
    assert served.txt2img_requests() == before
    assert list(tmp_path.iterdir()) == []


def test_without_sheet_no_sheet_is_written(ppio: PPIO, served: Served, tmp_path: Path) -> None:
    run = ppio(
        "txt2img", "a fox", *served.connection(), "-o", str(tmp_path), "--width", "256", "--height", "256"
    )
    assert run.code == 0, run.err
    assert not list(tmp_path.glob("*sheet*"))
    assert "contact sheet" not in run.out


def test_a_sheet_that_took_the_prompt_as_its_path_is_said_to_have_and_nothing_is_sent(
    ppio: PPIO, served: Served, tmp_path: Path
) -> None:
    """`--sheet` takes an optional path: written before the prompt, it takes the prompt. The error says
    so; the prompt is not guessed back (`--sheet d` with no prompt would buy an image of "d")."""
    before = served.txt2img_requests()
    for path in ("a fox. Misty", "d"):
        run = ppio("txt2img", "--sheet", path, *served.connection(), "-o", str(tmp_path / "out"))
        assert run.code == 2
        assert run.err.startswith("usage: ppio txt2img")
        assert (
            f"error: the following arguments are required: prompt (--sheet took {path!r} as its path; "
            "write --sheet after the prompt or the task id, or --sheet=PATH)"
        ) in run.err
    run = ppio("wait", "--sheet", "some-task", *served.connection())
    assert "required: TASK_ID (--sheet took 'some-task' as its path" in run.err
    run = ppio("wait", "--sheet", "-o", str(tmp_path), *served.connection())
    assert run.err.endswith("error: the following arguments are required: TASK_ID\n")
    assert served.txt2img_requests() == before
    assert list(tmp_path.iterdir()) == []
