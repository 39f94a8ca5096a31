"""The batch's journal: what happened to each input line, in SQLite (`OUT/journal.sqlite3`).

One row per line. The writes that decide whether a task could be bought twice are committed (WAL,
`synchronous=FULL`: on disk when `commit` returns) before the next step: the intent to submit a line
before its POST, and the task id as soon as it is known. Everything else (done, failed, unknown) is
written in the same transaction as the next of those or at the next `flush()` (about every 0.5 s):
losing it to a crash costs a second wait for a known task id, never a second task. Commits run on a
worker thread (an fsync takes milliseconds) and concurrent ones share a transaction.

    status     meaning                                      on the next run
    intent     about to POST, or POSTing, no id yet         unknown: the POST may have created a task
    submitted  the task id is known                         waited for (client.wait), not resubmitted
    done       images saved                                 skipped
    failed     `retry` says what a rerun may do:            'submit': nothing was created, sent again
                                                            'wait': the task id is kept, waited for again
                                                            NULL: final (a bad line, a failed task)
    unknown    a POST may have created a task, id unknown   left alone unless --resubmit-unknown

A line whose request changed (its hash differs) supersedes its old row: the old row moves to
`superseded` (keeping any task id) and the line starts afresh.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread

__all__ = ["Journal", "Row"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lines (
    line        INTEGER PRIMARY KEY,
    digest      TEXT NOT NULL,
    prompt      TEXT,
    status      TEXT NOT NULL,
    task_id     TEXT,
    seed        INTEGER,
    images      TEXT NOT NULL DEFAULT '[]',
    error       TEXT,
    error_field TEXT,
    retry       TEXT,
    updated     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS lines_by_digest ON lines (digest);
CREATE TABLE IF NOT EXISTS superseded (
    line INTEGER NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL, task_id TEXT, at REAL NOT NULL
);
"""
#: Columns added since the first version, by table (older journals gain them on open). `superseded`:
#: the whole row, its images held in `superseded/<key>/` (as JSON), so that a line asking for the same
#: request again takes it over (`take`). `lines`: when its POST went out (then when it was answered)
#: and its images, so that a rerun's pacer counts what the run before sent in the last window.
_ADDED_COLUMNS = {"superseded": ("held TEXT", "key TEXT"), "lines": ("sent_at REAL", "cost INTEGER")}

UNKNOWN_AFTER_CRASH = (
    "the POST may have created a task but no id came back (the run stopped while submitting); "
    "not resubmitted, so as not to pay twice: check your tasks, or rerun with --resubmit-unknown"
)


@dataclass(frozen=True)
class Row:
    line: int
    digest: str
    prompt: str | None
    status: str
    task_id: str | None
    seed: int | None
    images: tuple[str, ...]
    error: str | None
    error_field: str | None
    retry: str | None


def _storable(value: object) -> object:
    """`value` as SQLite can store it: text with each lone UTF-16 surrogate replaced by U+FFFD. Python
    keeps one (`surrogateescape` makes one of a byte of a file that is not UTF-8, a JSON line's
    `"\\ud800"` reads as one); SQLite cannot encode it. Such a line is refused before anything is sent;
    its prompt is kept for the record, as near as it can be."""
    if isinstance(value, str) and not value.isascii():
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value


class Journal:
    """The journal of one output directory, used from one event loop.

    Writes are queued in memory (`dirty`) and applied by `await commit()` on a worker thread, so that
    fsync never blocks the event loop; concurrent `commit()`s share one transaction (group commit).
    Reads (`get`) use a second connection and see what is committed: enough, since a line is handled
    by one coroutine at a time and its own changes are read back by no one else.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = self._connect()
        self._db.executescript(_SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            known = {column[1] for column in self._db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in known:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        self._reader = self._connect()
        #: Lines whose row this run superseded (None) or put back (`put`), before any other write to them:
        #: what `get` answers for them, committed or not.
        self._changed: dict[int, Row | None] = {}
        #: Superseded rows a line may take over, by digest: (key, row with its held images), oldest first.
        self._held: dict[str, list[tuple[str, Row]]] = {}
        for key, held in self._reader.execute("SELECT key, held FROM superseded WHERE held IS NOT NULL"):
            row = _row_of_json(str(held))
            self._held.setdefault(row.digest, []).append((str(key), row))
        self._pending: list[tuple[str, tuple[object, ...]]] = []
        self._seq = self._committed = 0
        self._lock = threading.Lock()
        self._flushing: anyio.Lock | None = None
        self.dirty = False

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    # --------------------------------------------------------------------------------- transactions
    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        self._pending.append((sql, tuple(_storable(arg) for arg in args)))
        self._seq += 1
        self.dirty = True

    def _apply(self, batch: list[tuple[str, tuple[object, ...]]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in batch:
                    self._db.execute(sql, args)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")  # synchronous=FULL: on disk when this returns

    async def commit(self) -> None:
        """Every write queued so far is on disk when this returns (run on a worker thread)."""
        target = self._seq
        if self._flushing is None:
            self._flushing = anyio.Lock()
        while self._committed < target:
            async with self._flushing:
                if self._committed >= target:
                    break
                batch, upto = self._pending, self._seq
                self._pending = []
                await anyio.to_thread.run_sync(self._apply, batch)
                self._committed = upto

    def flush(self) -> None:
        """Commit what is queued, from this thread (at the start and the end of a run)."""
        batch, upto = self._pending, self._seq
        self._pending = []
        if batch:
            self._apply(batch)
        self._committed = max(self._committed, upto)

    def close(self) -> None:
        self.flush()
        self._db.close()
        self._reader.close()

    # ------------------------------------------------------------------------------------- reading
    def get(self, line: int) -> Row | None:
        if line in self._changed:
            return self._changed[line]
        found = self._reader.execute("SELECT * FROM lines WHERE line = ?", (line,)).fetchone()
        return None if found is None else _row(found)

    def rows(self) -> Iterator[Row]:
        """Every committed line, in order, streamed (on a connection of its own: any thread may read)."""
        db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            for found in db.execute("SELECT * FROM lines ORDER BY line"):
                yield _row(found)
        finally:
            db.close()

    def sent_since(self, since: float) -> list[tuple[float, int]]:
        """(when, images) of the POSTs sent since `since` (wall clock) whose tasks may count in the
        server's window: answered (stamped when), or of unknown outcome (stamped when sent)."""
        found = self._reader.execute(
            "SELECT sent_at, cost FROM lines WHERE sent_at >= ? AND cost IS NOT NULL ORDER BY sent_at",
            (since,),
        )
        return [(float(at), int(cost)) for at, cost in found]

    def count(self, status: str) -> int:
        found = self._reader.execute("SELECT COUNT(*) FROM lines WHERE status = ?", (status,)).fetchone()
        return int(found[0])

    # ------------------------------------------------------------------------------------- writing
    def recover(self) -> int:
        """At the start of a run: lines left in `intent` by a run that stopped mid-POST become unknown."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE lines SET status = 'unknown', error = ?, updated = ? WHERE status = 'intent'",
                (UNKNOWN_AFTER_CRASH, time.time()),
            )
        return cursor.rowcount

    def intent(self, line: int, digest: str, prompt: str | None, cost: int = 1) -> None:
        """About to POST this line, for `cost` images (`await commit()` before the request leaves)."""
        self._changed.pop(line, None)
        now = time.time()
        self._write(
            "INSERT INTO lines (line, digest, prompt, status, updated, sent_at, cost) "
            "VALUES (?, ?, ?, 'intent', ?, ?, ?) "
            "ON CONFLICT (line) DO UPDATE SET digest = excluded.digest, prompt = excluded.prompt, "
            "status = 'intent', task_id = NULL, seed = NULL, images = '[]', error = NULL, "
            "error_field = NULL, retry = NULL, updated = excluded.updated, sent_at = excluded.sent_at, "
            "cost = excluded.cost",
            (line, digest, prompt, now, now, cost),
        )

    def submitted(self, line: int, task_id: str) -> None:
        """The POST created `task_id` (`await commit()` at once)."""
        self._changed.pop(line, None)
        now = time.time()
        self._write(
            "UPDATE lines SET status = 'submitted', task_id = ?, updated = ?, sent_at = ? WHERE line = ?",
            (task_id, now, now, line),
        )

    def nothing_created(self, line: int) -> None:
        """The POST provably created no task (429, connection refused): the intent is withdrawn."""
        self._changed.pop(line, None)
        self._write("DELETE FROM lines WHERE line = ? AND status = 'intent'", (line,))

    def done(self, line: int, seed: int | None, images: list[str]) -> None:
        self._changed.pop(line, None)
        self._write(
            "UPDATE lines SET status = 'done', seed = ?, images = ?, error = NULL, error_field = NULL, "
            "retry = NULL, updated = ? WHERE line = ?",
            (seed, json.dumps(images), time.time(), line),
        )

    def unknown(self, line: int, error: str) -> None:
        self._changed.pop(line, None)
        self._write(
            "UPDATE lines SET status = 'unknown', error = ?, updated = ? WHERE line = ?",
            (error, time.time(), line),
        )

    def failed(
        self,
        line: int,
        digest: str,
        prompt: str | None,
        error: str,
        *,
        error_field: str | None = None,
        task_id: str | None = None,
        retry: str | None = None,
        images: Sequence[str] = (),
    ) -> None:
        """The line failed; `images`: those of its task that were saved all the same (fewer than asked),
        kept with the line as a done line's are (moved to `superseded/` with it, never overwritten)."""
        self._changed.pop(line, None)
        self._write(
            "INSERT INTO lines (line, digest, prompt, status, task_id, images, error, error_field, retry, "
            "updated) VALUES (?, ?, ?, 'failed', ?, ?, ?, ?, ?, ?) ON CONFLICT (line) DO UPDATE SET "
            "digest = excluded.digest, prompt = excluded.prompt, status = 'failed', "
            "task_id = excluded.task_id, seed = NULL, images = excluded.images, error = excluded.error, "
            "error_field = excluded.error_field, retry = excluded.retry, updated = excluded.updated",
            (line, digest, prompt, task_id, json.dumps(list(images)), error, error_field, retry, time.time()),
        )

    def supersede(self, old: Row, key: str) -> None:
        """The line's request changed (or the input no longer reaches it): keep its old row in
        `superseded` under `key`, with its images as they are now held (`old.images`), and forget it
        here. A line asking for the same request later takes it over (`take`)."""
        self._write(
            "INSERT INTO superseded (line, digest, status, task_id, at, held, key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (old.line, old.digest, old.status, old.task_id, time.time(), _json_of_row(old), key),
        )
        self._write("DELETE FROM lines WHERE line = ?", (old.line,))
        self._held.setdefault(old.digest, []).append((key, old))
        self._changed[old.line] = None

    def lines_after(self, last_line: int) -> list[Row]:
        """The rows of lines past `last_line` (the input ends there now)."""
        found = self._reader.execute("SELECT * FROM lines WHERE line > ? ORDER BY line", (last_line,))
        return [row for row in map(_row, found) if self.get(row.line) is not None]

    def later_row(self, digest: str, line: int) -> Row | None:
        """A row of the request `digest` at a line past `line` (one this run has not reached yet, when
        it reads the input in order), or None."""
        found = self._reader.execute(
            "SELECT * FROM lines WHERE digest = ? AND line > ? ORDER BY line", (digest, line)
        )
        return next((row for row in map(_row, found) if self.get(row.line) is not None), None)

    def take(self, digest: str) -> tuple[str, Row] | None:
        """A superseded row of the request `digest` (done first, then one with a task id, then any),
        with its key, no longer superseded; None if there is none. The caller puts it back (`put`)."""
        held = self._held.get(digest)
        if not held:
            return None
        key, row = held.pop(min(range(len(held)), key=lambda i: (_preference(held[i][1]), i)))
        self._write("DELETE FROM superseded WHERE key = ?", (key,))
        return key, row

    def put(self, row: Row) -> None:
        """`row` as the line's row (a superseded one taken over at its new line)."""
        self._changed[row.line] = row
        self._write(
            "INSERT OR REPLACE INTO lines (line, digest, prompt, status, task_id, seed, images, error, "
            "error_field, retry, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.line,
                row.digest,
                row.prompt,
                row.status,
                row.task_id,
                row.seed,
                json.dumps(list(row.images)),
                row.error,
                row.error_field,
                row.retry,
                time.time(),
            ),
        )


def _row(found: tuple[object, ...]) -> Row:
    line, digest, prompt, status, task_id, seed, images, error, error_field, retry = found[:10]
    return Row(
        line=int(line),  # type: ignore[call-overload]
        digest=str(digest),
        prompt=None if prompt is None else str(prompt),
        status=str(status),
        task_id=None if task_id is None else str(task_id),
        seed=None if seed is None else int(seed),  # type: ignore[call-overload]
        images=tuple(json.loads(str(images))),
        error=None if error is None else str(error),
        error_field=None if error_field is None else str(error_field),
        retry=None if retry is None else str(retry),
    )


def _preference(row: Row) -> int:
    """Which superseded row of a request a line takes over first: the lower, the sooner."""
    if row.status == "done":
        return 0
    if row.status == "submitted":
        return 1
    return 2 if row.task_id else 3


def _json_of_row(row: Row) -> str:
    return json.dumps(dataclasses.asdict(row))


def _row_of_json(text: str) -> Row:
    fields = json.loads(text)
    return Row(**{**fields, "images": tuple(fields["images"])})
