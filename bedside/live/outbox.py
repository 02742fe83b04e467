"""Durable event outbox: sqlite in WAL mode, at-least-once delivery to MQTT.

Every event is written here *before* anything tries to publish it, and removed only when the broker
acknowledged it (PUBACK). After a crash or restart the rows still here are sent again, in insertion
order. Consumers de-duplicate on ``event_id`` (a row with an ``event_id`` already present is not
inserted twice).

Bound (documented in docs/mqtt.md): at most ``max_events`` rows and none older than
``max_age_s``; beyond that the *oldest* rows are dropped, each drop logged and counted in
``statistics()``. Dropping the oldest keeps the most recent nights, which matter most to the user.

A full disk (issue #16 item 4) never loses an event that the daemon is still running with: a row
sqlite cannot store (``SQLITE_FULL`` or any other sqlite error) is *held* in memory, in the same
id sequence, and is published and acknowledged like a stored one; held rows are written to the
table, with their ids, as soon as it accepts writes again (tried at most every
``RETRY_HELD_S``). At most ``HELD_MAX`` rows are held (the oldest dropped beyond, counted).
If the database cannot even be opened (the disk was full at start) the outbox runs on an
in-memory database for the night: events are still published, but not kept across a restart.

Not thread-safe by design: one ``Outbox`` is used from one thread (the asyncio loop; paho's
callbacks are handed to it). Imports no paho.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bedside.live.recorder import is_disk_full

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic    TEXT NOT NULL,
    payload  TEXT NOT NULL,
    qos      INTEGER NOT NULL,
    retain   INTEGER NOT NULL,
    created  REAL NOT NULL
)
"""
HELD_MAX = 1000  # rows held in memory while the disk is full: tens of events a night at most
RETRY_HELD_S = 5.0  # how often held rows are offered to sqlite again (wall-clock s)
# AUTOINCREMENT: ids are never reused, even after the newest rows were acknowledged and deleted,
# so "send in id order" is "send in insertion order" across restarts (sqlite.org/autoinc.html).


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One unsent message: ``payload`` is the exact text that will be published."""

    row_id: int
    event_id: str
    topic: str
    payload: str
    qos: int
    retain: bool
    created: float  # wall clock, s since the Unix epoch


@dataclass(frozen=True, slots=True)
class OutboxStatistics:
    put: int  # rows inserted by this instance
    duplicates: int  # put() of an event_id already present (not inserted again)
    acked: int  # rows removed on acknowledgement
    dropped_overflow: int  # oldest rows dropped because of max_events
    dropped_age: int  # rows dropped because older than max_age_s
    pending: int  # rows waiting for their PUBACK now (stored and held)
    held: int = 0  # rows held in memory because sqlite could not store them (a full disk)
    disk_full: bool = False  # the last write failed because the disk is full
    durable: bool = True  # False: the database could not be opened; rows live in memory only


class Outbox:
    """``Outbox(path)``: a durable FIFO of messages waiting for their PUBACK.

    ``max_events`` and ``max_age_s`` bound the table (oldest dropped first); ``clock`` is the wall
    clock in s since the epoch (injectable for tests).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_events: int = 10000,
        max_age_s: float = 30 * 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        self.path = Path(path)
        self._max_events = max_events
        self._max_age_s = max_age_s
        self._clock = clock
        self._put = self._duplicates = self._acked = 0
        self._dropped_overflow = self._dropped_age = 0
        self._held: dict[int, OutboxRow] = {}  # id -> row sqlite could not store, in id order
        self._acked_unstored: set[int] = set()  # acknowledged, but the DELETE failed
        self._retry_at = 0.0
        self.disk_full = False
        self.durable = True
        try:
            self._db = _open_database(self.path)
        except (OSError, sqlite3.Error) as exc:
            if not is_disk_full(exc):
                raise
            log.error("outbox %s cannot be opened: the disk is full; tonight's events are "
                      "published from memory, but not kept across a restart", self.path)
            self.durable, self.disk_full = False, True
            self._db = _open_database(":memory:")
        self._last_id = int(self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'"
        ).fetchone()[0])
        self._enforce_bounds()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def put(
        self,
        event: Mapping[str, object],
        *,
        topic: str,
        qos: int = 1,
        retain: bool = False,
    ) -> int:
        """Store ``event`` (JSON-serialisable, with a str ``event_id``) durably; returns its row id.

        A ``put`` of an ``event_id`` still in the outbox stores nothing, is counted as a duplicate
        and returns the existing row id. One already acknowledged (and so removed) is stored and
        sent again; consumers de-duplicate on ``event_id``.
        """
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise ValueError(f"event needs a non-empty str 'event_id', got {event_id!r}")
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos}")
        payload = json.dumps(dict(event), separators=(",", ":"), allow_nan=False)
        existing = self._row_of(event_id)
        if existing is not None:
            self._duplicates += 1
            return existing
        self._put += 1
        row = OutboxRow(self._last_id + 1, event_id, topic, payload, qos, retain, self._clock())
        self._last_id = row.row_id
        self._held[row.row_id] = row  # held first: stored below if sqlite can, in id order
        self._store_held(force=True)
        self._enforce_bounds()
        return row.row_id

    def _row_of(self, event_id: str) -> int | None:
        for row in self._held.values():
            if row.event_id == event_id:
                return row.row_id
        found = self._db.execute("SELECT id FROM outbox WHERE event_id = ?", (event_id,))
        row = found.fetchone()
        return None if row is None else int(row[0])

    def _store_held(self, *, force: bool = False) -> None:
        """Write held rows (oldest first, with their ids) and finish failed DELETEs; on a
        sqlite error they stay held. Without ``force``, tried at most every RETRY_HELD_S."""
        if not (self._held or self._acked_unstored):
            return
        now = self._clock()
        if not force and now < self._retry_at:
            return
        try:
            # one transaction: all or nothing, and one commit's worth of WAL for the lot
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "DELETE FROM outbox WHERE id = ?", [(i,) for i in self._acked_unstored]
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox "
                    "(id, event_id, topic, payload, qos, retain, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(r.row_id, r.event_id, r.topic, r.payload, r.qos, int(r.retain), r.created)
                     for r in sorted(self._held.values(), key=lambda r: r.row_id)],
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            self._acked_unstored.clear()
            self._held.clear()  # only once committed: never lost, never twice
        except sqlite3.Error as exc:
            self._retry_at = now + RETRY_HELD_S
            if not self.disk_full:
                log.error("outbox: cannot store events (%s); %d held in memory and still "
                          "published", "the disk is full" if is_disk_full(exc) else exc,
                          len(self._held))
            self.disk_full = True
            return
        if self.disk_full and self.durable:
            log.info("outbox: storing events again")
            self.disk_full = False

    def pending(self, limit: int | None = None, *, after: int = 0) -> list[OutboxRow]:
        """Unacknowledged rows with ``row_id > after``, oldest first, at most ``limit``
        (stored and held ones, in one id order)."""
        self._store_held()
        want = -1 if limit is None else limit + len(self._acked_unstored)
        stored = [
            OutboxRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6])
            for r in self._db.execute(
                "SELECT id, event_id, topic, payload, qos, retain, created FROM outbox "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after, want),
            ).fetchall()
            if r[0] not in self._acked_unstored
        ]
        held = [r for i, r in self._held.items() if i > after]
        rows = sorted(stored + held, key=lambda r: r.row_id)
        return rows if limit is None else rows[:limit]

    def ack(self, row_id: int) -> bool:
        """Remove a row once its PUBACK arrived; False if it was not there (already removed)."""
        if self._held.pop(row_id, None) is not None:
            self._acked += 1
            return True
        if row_id in self._acked_unstored:
            return False
        try:
            cur = self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
        except sqlite3.Error:  # a full disk: WAL needs room even to delete; done later
            if self._db.execute("SELECT 1 FROM outbox WHERE id = ?", (row_id,)).fetchone():
                self._acked_unstored.add(row_id)
                self._acked += 1
                return True
            return False
        if cur.rowcount:
            self._acked += 1
            return True
        return False

    def __len__(self) -> int:
        stored = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        return stored - len(self._acked_unstored) + len(self._held)

    def statistics(self) -> OutboxStatistics:
        return OutboxStatistics(
            put=self._put,
            duplicates=self._duplicates,
            acked=self._acked,
            dropped_overflow=self._dropped_overflow,
            dropped_age=self._dropped_age,
            pending=len(self),
            held=len(self._held),
            disk_full=self.disk_full,
            durable=self.durable,
        )

    def _enforce_bounds(self) -> None:
        if len(self._held) > HELD_MAX:
            for row_id in sorted(self._held)[: len(self._held) - HELD_MAX]:
                del self._held[row_id]
                self._dropped_overflow += 1
            log.warning("outbox: more than %d events held in memory; the oldest dropped",
                        HELD_MAX)
        with contextlib.suppress(sqlite3.Error):  # a full disk: the DELETEs wait for a later put
            self._enforce_stored_bounds()

    def _enforce_stored_bounds(self) -> None:
        cutoff = self._clock() - self._max_age_s
        old = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE created < ?", (cutoff,)
        ).fetchone()[0]
        if old:
            self._db.execute("DELETE FROM outbox WHERE created < ?", (cutoff,))
            self._dropped_age += old
            log.warning(
                "outbox: dropped %d unsent event(s) older than %.1f days",
                old,
                self._max_age_s / 86400.0,
            )
        excess = len(self) - self._max_events
        if excess > 0:
            self._db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                (excess,),
            )
            self._dropped_overflow += excess
            log.warning(
                "outbox: full (%d events); dropped the %d oldest unsent event(s)",
                self._max_events,
                excess,
            )


def _open_database(path: str | Path) -> sqlite3.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # cramp history is health data: 0600 whatever the umask (sqlite creates the -wal and
        # -shm files with the main file's mode)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        os.chmod(path, 0o600)
    # isolation_level=None: autocommit; each statement is its own durable transaction.
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a row reported as put survives power loss, not only a process crash
        # (sqlite.org/pragma.html#pragma_synchronous: NORMAL in WAL mode may lose the last
        # commits).
        db.execute("PRAGMA synchronous=FULL")
        db.execute(_SCHEMA)
    except sqlite3.Error:
        db.close()
        raise
    return db
