"""`ppio txt2img` and `ppio wait` end to end against the sandbox: files, output, exit statuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

import ppio_txt2img as ppio_sdk
from ppio_txt2img._inputs import RequestOptions
from ppio_txt2img.cli._parser import build_parser, request_options
from tests.cli.cli_helpers import API_KEY, PPIO, Served

SMALL = ["--width", "256", "--height", "128", "--steps", "4"]


def test_txt2img_with_sandbox_saves_images_of_the_asked_size(ppio: PPIO, tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"  # created by the command
    run = ppio(
        "txt2img", "a red fox", "--sandbox", "--sandbox-speed", "50", "-o", str(out),
        "-n", "2", "--width", "384", "--height", "256", "--image-type", "webp",
    )  # fmt: skip
    assert run.code == 0, run.err
    files = sorted(out.iterdir())
    assert [f.suffix for f in files] == [".webp", ".webp"]
    for index, path in enumerate(files):
        assert re.fullmatch(rf"[0-9a-f-]+-{index}\.webp", path.name)
        with Image.open(path) as image:
            assert (image.format, image.size) == ("WEBP", (384, 256))
        assert f"{path}  384x256  webp  {path.stat().st_size} bytes" in run.out.splitlines()


def test_json_output_parses_and_matches_the_files_on_disk(ppio: PPIO, served: Served, tmp_path: Path) -> None:
    run = ppio("txt2img", "a fox", *served.connection(), *SMALL, "-n", "2", "-o", str(tmp_path), "--json")
    assert run.code == 0, run.err
    result = run.json()
    assert set(result) == {"task_id", "seed", "images"}
    assert isinstance(result["seed"], int)
    assert [image["index"] for image in result["images"]] == [0, 1]
    for image in result["images"]:
        assert list(image) == ["index", "path", "format", "width", "height", "bytes", "url"]
        path = Path(image["path"])
        assert path.parent == tmp_path
        assert path.name.startswith(result["task_id"])
        assert image["bytes"] == path.stat().st_size
        with Image.open(path) as decoded:
            assert (image["width"], image["height"]) == decoded.size == (256, 128)
            assert decoded.format is not None
            assert image["format"] == decoded.format.lower() == "png"
        assert image["url"].startswith("http")
        assert "?" not in image["url"]


@pytest.mark.parametrize(
    ("flags", "field", "flag"),
    [
        (["--width", "99999"], "request.width", "--width"),
        (["--steps", "0"], "request.steps", "--steps"),
        (["--lora", "detail:3"], "request.loras[0].strength", "--lora"),
    ],
)
def test_out_of_range_option_exits_2_naming_the_field_and_sends_nothing(
    ppio: PPIO, served: Served, tmp_path: Path, flags: list[str], field: str, flag: str
) -> None:
    before = served.txt2img_requests()
    run = ppio("txt2img", "a cat", *served.connection(), *flags, "-o", str(tmp_path))
    assert run.code == 2
    assert f"{field}: " in run.err
    assert f"(option {flag})" in run.err
    assert served.txt2img_requests() == before
    assert list(tmp_path.iterdir()) == []


def test_bad_input_exits_2_even_when_the_api_is_unreachable(
    ppio: PPIO, unused_port_url: str, tmp_path: Path
) -> None:
    # Any request to a closed port would fail with status 1; 2 proves none was attempted.
    run = ppio("txt2img", "a cat", "--base-url", unused_port_url, "--api-key", API_KEY, "--width", "99999")
    assert run.code == 2
    assert "request.width" in run.err


def test_malformed_flag_value_is_an_argparse_error_with_status_2(ppio: PPIO) -> None:
    run = ppio("txt2img", "a cat", "--sandbox", "--hires-fix", "big")
    assert run.code == 2
    assert "argument --hires-fix: expected WxH:STRENGTH[:UPSCALER]" in run.err


def test_no_api_key_exits_2_before_any_request(
    ppio: PPIO, monkeypatch: pytest.MonkeyPatch, unused_port_url: str
) -> None:
    monkeypatch.delenv("PPIO_API_KEY", raising=False)
    run = ppio("txt2img", "a cat", "--base-url", unused_port_url)
    assert run.code == 2
    assert "no API key" in run.err
    assert "PPIO_API_KEY" in run.err


def test_failing_task_exits_1_with_the_task_id_and_the_reason(
    ppio: PPIO, served: Served, tmp_path: Path
) -> None:
    run = ppio("txt2img", "please FAIL now", *served.connection(), *SMALL, "-o", str(tmp_path))
    assert run.code == 1
    created = re.search(r"^task (\S+)$", run.err, re.MULTILINE)
    assert created is not None, run.err
    task_id = created.group(1)
    assert served.sandbox.tasks[task_id].status == "TASK_STATUS_FAILED"
    assert f"ppio: error: task {task_id} failed: ILLEGAL_PROMPT" in run.err
    assert run.out == ""


def test_unreachable_api_exits_1(ppio: PPIO, unused_port_url: str) -> None:
    run = ppio("txt2img", "a cat", "--base-url", unused_port_url, "--api-key", API_KEY, "--max-retries", "0")
    assert run.code == 1
    assert f"ppio: error: POST {unused_port_url}/v3/async/txt2img: ConnectError" in run.err  # where, too


def test_progress_off_a_terminal_is_plain_lines_on_stderr(
    ppio: PPIO, queued_served: Served, tmp_path: Path
) -> None:
    run = ppio("txt2img", "a cat", *queued_served.connection(), *SMALL, "-o", str(tmp_path))
    assert run.code == 0, run.err
    lines = run.err.splitlines()
    assert "\r" not in run.err
    assert "\x1b" not in run.err
    assert re.fullmatch(r"task [0-9a-f-]+", lines[0])
    assert lines[1].startswith("queued")
    assert any(line.startswith("done: downloading 1 image") for line in lines)
    assert all(line.startswith(str(tmp_path)) for line in run.out.splitlines())  # stdout: only the results


def test_quiet_prints_no_progress(ppio: PPIO, served: Served, tmp_path: Path) -> None:
    run = ppio("txt2img", "a cat", *served.connection(), *SMALL, "-o", str(tmp_path), "-q")
    assert run.code == 0
    assert run.err == ""


def test_wait_saves_the_images_of_an_existing_task(ppio: PPIO, served: Served, tmp_path: Path) -> None:
    with ppio_sdk.Client(API_KEY, base_url=served.url) as client:
        task = client.submit("a boat", width=320, height=192, steps=4, image_num=2)
    run = ppio("wait", task.id, *served.connection(), "-o", str(tmp_path), "--json")
    assert run.code == 0, run.err
    result = run.json()
    assert result["task_id"] == task.id
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{task.id}-0.png", f"{task.id}-1.png"]
    assert {(i["width"], i["height"]) for i in result["images"]} == {(320, 192)}


def test_every_request_option_has_a_flag() -> None:
    flags = [
        "--model", "m", "--negative-prompt", "n", "--width", "512", "--height", "512", "-n", "2",
        "--steps", "9", "--guidance-scale", "5", "--sampler", "DDIM", "--seed", "3",
        "--lora", "a:b:0.5", "--lora", "c:1", "--embedding", "e", "--hires-fix", "1024x768:0.4:Latent",
        "--refiner", "0.8", "--clip-skip", "2", "--sd-vae", "v", "--transparent", "--restore-faces",
        "--image-type", "png", "--nsfw-detection", "--nsfw-level", "1", "--webhook-url", "http://h/x",
    ]  # fmt: skip
    options = request_options(build_parser().parse_args(["txt2img", "p", *flags]))
    assert set(options) == set(RequestOptions.__annotations__)
    assert options["loras"] == [ppio_sdk.Lora("a:b", 0.5), ppio_sdk.Lora("c", 1.0)]
    assert options["hires_fix"] == ppio_sdk.HiresFix(1024, 768, 0.4, "Latent")
    assert options["refiner"] == ppio_sdk.Refiner(0.8)
    assert options["embeddings"] == [ppio_sdk.Embedding("e")]
    assert options["enable_transparent_background"] is True


def test_unset_flags_send_nothing_so_the_sdk_defaults_apply() -> None:
    assert request_options(build_parser().parse_args(["txt2img", "p"])) == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["-n", "0"], "request.image_num"), (["--sheet", "bad.gif"], "--sheet bad.gif")],
)
def test_bad_input_leaves_no_output_directory(
    ppio: PPIO, tmp_path: Path, argv: list[str], message: str
) -> None:
    """Refused with exit 2 before anything is sent, and before the -o directory is made (it was made)."""
    out = tmp_path / "made_anyway"
    run = ppio(
        "txt2img", "a fox", *argv, "-o", str(out), "--base-url", "http://127.0.0.1:9", "--api-key", "k"
    )
    assert run.code == 2
    assert message in run.err
    assert not out.exists()
