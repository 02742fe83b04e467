"""Durable event outbox: sqlite in WAL mode, at-least-once delivery to MQTT.

Every event is written here *before* anything tries to publish it, and removed only when the broker
acknowledged it (PUBACK). After a crash or restart the rows still here are sent again, in insertion
order. Consumers de-duplicate on ``event_id`` (a row with an ``event_id`` already present is not
inserted twice).

Bound (documented in docs/mqtt.md): at most ``max_events`` rows and none older than
``max_age_s``; beyond that the *oldest* rows are dropped, each drop logged and counted in
``statistics()``. Dropping the oldest keeps the most recent nights, which matter most to the user.

Not thread-safe by design: one ``Outbox`` is used from one thread (the asyncio loop; paho's
callbacks are handed to it). Imports no paho.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

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
    pending: int  # rows in the table now


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; each statement is its own durable transaction.
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a row reported as put survives power loss, not only a process crash
        # (sqlite.org/pragma.html#pragma_synchronous: NORMAL in WAL mode may lose the last commits).
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
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
        cur = self._db.execute(
            "INSERT OR IGNORE INTO outbox (event_id, topic, payload, qos, retain, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (event_id, topic, payload, qos, int(retain), self._clock()),
        )
        if cur.rowcount == 0:
            self._duplicates += 1
            row = self._db.execute(
                "SELECT id FROM outbox WHERE event_id = ?", (event_id,)
            ).fetchone()
            return int(row[0])
        self._put += 1
        row_id = int(cur.lastrowid or 0)
        self._enforce_bounds()
        return row_id

    def pending(self, limit: int | None = None, *, after: int = 0) -> list[OutboxRow]:
        """Unacknowledged rows with ``row_id > after``, oldest first, at most ``limit``."""
        rows = self._db.execute(
            "SELECT id, event_id, topic, payload, qos, retain, created FROM outbox "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after, -1 if limit is None else limit),
        ).fetchall()
        return [OutboxRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in rows]

    def ack(self, row_id: int) -> bool:
        """Remove a row once its PUBACK arrived; False if it was not there (already removed)."""
        cur = self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
        if cur.rowcount:
            self._acked += 1
            return True
        return False

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def statistics(self) -> OutboxStatistics:
        return OutboxStatistics(
            put=self._put,
            duplicates=self._duplicates,
            acked=self._acked,
            dropped_overflow=self._dropped_overflow,
            dropped_age=self._dropped_age,
            pending=len(self),
        )

    def _enforce_bounds(self) -> None:
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
