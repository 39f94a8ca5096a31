"""`Generation.contact_sheet()`: one picture of every image in a grid, each cell from the right image."""

from __future__ import annotations

import pytest

from ppio_txt2img._pictures import CAPTION_COLOUR, SHEET_BACKGROUND, SHEET_GAP
from tests.pictures.pictures_helpers import BLUE, COLOURS, GREEN, RED, generation, solid

GAP = SHEET_GAP
CELL = 256


@pytest.mark.parametrize(("columns", "rows"), [(1, 5), (2, 3), (3, 2), (5, 1)])
def test_the_sheet_size_follows_the_grid(columns: int, rows: int) -> None:
    gen = generation(*(solid(c, (300, 200)) for c in COLOURS))
    one_row = gen.contact_sheet(columns=5).height  # 1 row: GAP + tile + caption + GAP
    row = one_row - 2 * GAP  # the tile's height and its caption

    sheet = gen.contact_sheet(columns=columns)

    # 300x200 fits a 256 cell as 256x171 (never enlarged; the longest side decides)
    assert sheet.size == (columns * CELL + (columns + 1) * GAP, rows * row + (rows + 1) * GAP)
    assert 171 < row < 171 + 40  # a small caption strip


def test_default_columns_make_a_square_ish_grid() -> None:
    sizes = {
        n: generation(*(solid(RED, (64, 64)) for _ in range(n))).contact_sheet().size for n in (1, 2, 4, 5)
    }
    tile = 64 + GAP  # small images stay small
    assert sizes[1][0] == tile + GAP
    assert sizes[2][0] == 2 * tile + GAP  # 2 -> 2 columns, 1 row
    assert sizes[4][0] == 2 * tile + GAP  # 4 -> 2 x 2
    assert sizes[5][0] == 3 * tile + GAP  # 5 -> 3 + 2
    assert sizes[4][1] == sizes[5][1] == 2 * (sizes[1][1] - GAP) + GAP


def test_each_cell_shows_its_own_image_and_the_empty_cell_stays_background() -> None:
    gen = generation(*(solid(c, (300, 200)) for c in COLOURS))
    sheet = gen.contact_sheet(columns=3)
    row = (sheet.height - GAP) // 2  # tile + caption + gap
    tile_h = round(200 * CELL / 300)

    def centre(index: int) -> tuple[int, int]:
        r, c = divmod(index, 3)
        return GAP + c * (CELL + GAP) + CELL // 2, GAP + r * row + tile_h // 2

    assert [sheet.getpixel(centre(i)) for i in range(5)] == list(COLOURS)
    assert sheet.getpixel(centre(5)) == SHEET_BACKGROUND


def test_each_cell_is_captioned_under_its_image() -> None:
    sheet = generation(solid(RED), solid(GREEN)).contact_sheet(columns=2)
    tile_h = round(200 * CELL / 300)
    for column in range(2):
        left = GAP + column * (CELL + GAP)
        strip = sheet.crop((left, GAP + tile_h, left + CELL, sheet.height - GAP))
        colours = {
            colour for _, colour in strip.getcolors(maxcolors=1 << 16) or [] if isinstance(colour, tuple)
        }
        brightest = max(sum(colour) for colour in colours)
        assert brightest > (sum(SHEET_BACKGROUND) + sum(CAPTION_COLOUR)) / 2  # text was drawn (antialiased)
        assert RED not in colours
        assert GREEN not in colours


def test_images_of_different_shapes_each_fit_the_common_tile_centred() -> None:
    wide, tall = solid(RED, (400, 100)), solid(BLUE, (100, 400))
    sheet = generation(wide, tall).contact_sheet(columns=2, cell=200)
    # tile = the largest width and height, scaled to fit 200: 200 x 200
    assert sheet.width == 2 * 200 + 3 * GAP
    assert sheet.getpixel((GAP + 100, GAP + 100)) == RED
    assert sheet.getpixel((GAP + 100, GAP + 10)) == SHEET_BACKGROUND  # above the wide image
    assert sheet.getpixel((2 * GAP + 200 + 100, GAP + 10)) == BLUE
    assert sheet.getpixel((2 * GAP + 200 + 10, GAP + 100)) == SHEET_BACKGROUND  # beside the tall one


def test_a_generation_without_images_has_no_sheet() -> None:
    with pytest.raises(ValueError, match="at least one image"):
        generation().contact_sheet()
