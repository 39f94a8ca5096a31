"""`OUT/manifest.jsonl`: one JSON object per input line seen so far, sorted by line, rewritten
atomically (a temporary file, fsync, `os.replace`). The layout is `MANIFEST-FORMAT.md`'s."""

from __future__ import annotations

import json
import os
from collections.abc import Container
from pathlib import Path
from typing import Any

from ._journal import UNKNOWN_AFTER_CRASH, Journal, Row

__all__ = ["MANIFEST", "manifest_entry", "write_manifest"]

MANIFEST = "manifest.jsonl"


def manifest_entry(row: Row, posting: Container[int] = ()) -> dict[str, Any]:
    """The manifest object of a journal row. `posting`: lines whose POST is under way in this run
    (shown as running); any other line left mid-POST is unknown."""
    if row.status == "submitted" or (row.status == "intent" and row.line in posting):
        status = "running"
    elif row.status == "intent":
        status = "unknown"
    else:
        status = row.status
    return {
        "line": row.line,
        "status": status,
        "prompt": row.prompt,
        "task_id": row.task_id,
        "seed": row.seed,
        "images": list(row.images) if status in ("done", "failed") else [],  # a failed line: those that came
        "error": (row.error or UNKNOWN_AFTER_CRASH if status == "unknown" else row.error)
        if status in ("failed", "unknown")
        else None,
        "error_field": row.error_field if status == "failed" else None,
    }


def write_manifest(out_dir: Path, journal: Journal, posting: Container[int] = ()) -> Path:
    """Rewrite the manifest from the journal, atomically; returns its path."""
    path = out_dir / MANIFEST
    tmp = out_dir / (MANIFEST + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in journal.rows():
            out.write(json.dumps(manifest_entry(row, posting), ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return path
