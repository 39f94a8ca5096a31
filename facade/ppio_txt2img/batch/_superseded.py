"""Lines whose request changed, and requests that come back: what a batch run does when the input was
edited between runs.

The journal keys its rows by line number, and a line whose request changed (its digest) supersedes its
old row. That row is not thrown away: its images are moved to `superseded/<key>/` and the row is kept
in the journal's `superseded` table. A line (this one, or any other, in this run or a later one)
whose request is one of those, or is at a line the run has not reached yet (lines moved up), takes it
over: its task, seed, status and images, moved back to `images/<line>-<i>.<ext>`, with no new POST.
So a prompt added at the top of a finished file buys one task, not one per line below it, and running
`head -n 5` of a file into the output, then the whole file again, buys nothing twice. A line left
`unknown` stays unknown wherever it moves (never paid twice).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from pathlib import Path

from ppio_txt2img.batch._input import BatchRequest
from ppio_txt2img.batch._journal import Journal, Row

__all__ = ["IMAGES", "SUPERSEDED", "supersede_after", "take_over"]

#: Where a batch's images are (`images/<line>-<i>.<ext>`), and where superseded rows' images wait to
#: be taken over, under the output directory.
IMAGES = "images"
SUPERSEDED = "superseded"


def take_over(journal: Journal, request: BatchRequest) -> Row | None:
    """The journal row that stands for `request`'s line now: its own row if its request is unchanged;
    else (its old row superseded, images held) the row of an earlier task of the same request, taken
    over at this line with its images; None for a request with no task yet (or a bad line)."""
    row = journal.get(request.line)
    if row is not None and row.digest == request.digest:
        return row
    if row is not None:
        _supersede(journal, row)
    if request.error is not None:
        return None
    taken = journal.take(request.digest)
    if taken is None and (later := journal.later_row(request.digest, request.line)) is not None:
        # Moved up from a line the run has not reached (lines reordered): that line, if it still asks
        # for the same request, finds it gone and buys it, as this one would have.
        _supersede(journal, later)
        taken = journal.take(request.digest)
    if taken is None:
        return None
    key, old = taken
    out = journal.path.parent
    images = tuple(_move(out, held, f"{IMAGES}/{request.line}-{Path(held).name}") for held in old.images)
    _remove_empty(out / SUPERSEDED / key)
    row = dataclasses.replace(old, line=request.line, prompt=request.prompt, images=images)
    journal.put(row)
    return row


def supersede_after(journal: Journal, last_line: int) -> None:
    """The input ends at `last_line` now: the rows of later lines are superseded (their images held,
    for the day the input reaches them again)."""
    for row in journal.lines_after(last_line):
        _supersede(journal, row)


def _supersede(journal: Journal, row: Row) -> None:
    key = uuid.uuid4().hex
    out = journal.path.parent
    # images/<line>-<i>.<ext> is held as superseded/<key>/<i>.<ext>: the index and format stay.
    held = tuple(
        _move(out, path, f"{SUPERSEDED}/{key}/{Path(path).name.split('-', 1)[-1]}") for path in row.images
    )
    journal.supersede(dataclasses.replace(row, images=held), key)


def _move(out: Path, source: str, target: str) -> str:
    """Move the file OUT/`source` to OUT/`target` (a missing one stays missing); `target`."""
    destination = out / target
    destination.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(out / source, destination)
    return target


def _remove_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (a file it could not move back), or already gone
        directory.rmdir()
