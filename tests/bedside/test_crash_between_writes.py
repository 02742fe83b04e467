"""A run killed between the outbox and the history loses the event from neither: the outbox is
written first, and the next start adds to the history what the outbox stored but the history
lacks. (CI once killed the daemon after the history had an event and before the outbox did: that
event never reached the broker.) The end-to-end run is in test_daemon_outage.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from bedside.config.mqtt import MqttSettings
from bedside.config.settings import Settings
from bedside.live.daemon import Daemon
from bedside.live.mqtt import MqttPublisher
from bedside.live.outbox import Outbox
from bedside.live.sink import EventSink
from bedside.stream.night import NightSummary
from bedside.stream.records import dumps
from tests.bedside.test_recorded import EVENING, recorded_night


def _publisher(outbox: Outbox) -> MqttPublisher:
    """Never started: what it publishes stays in the outbox, as during a broker outage."""
    return MqttPublisher(MqttSettings(enabled=True, node_id="crash"), outbox,
                         on_command=lambda _c: None)


def _history_ids(path: Path) -> list[str]:
    return [json.loads(line)["event_id"] for line in path.read_text().splitlines()]


class _HistoryAtPut(Outbox):
    """The real outbox, noting at each put whether the history already held that event."""

    def __init__(self, path: Path, history: Path) -> None:
        super().__init__(path)
        self.history = history
        self.in_history_at_put: list[bool] = []

    def put(self, event: Mapping[str, object], **kwargs: object) -> int:
        text = self.history.read_text() if self.history.exists() else ""
        self.in_history_at_put.append(f'"{event["event_id"]}"' in text)
        return super().put(event, **kwargs)  # type: ignore[arg-type]


async def test_the_outbox_stores_each_event_before_the_history_has_it(tmp_path: Path) -> None:
    history = tmp_path / "events.jsonl"
    outbox = _HistoryAtPut(tmp_path / "outbox.sqlite3", history)
    sink = EventSink(history_path=history, publisher=_publisher(outbox), prompt=None,
                     printer=None, summary=NightSummary(night="2026-11-26"))
    for event in recorded_night():
        sink(event)
    assert outbox.in_history_at_put == [False, False, False]
    assert _history_ids(history) == [e.event_id for e in recorded_night()]
    outbox.close()


async def test_a_restart_adds_what_the_killed_run_stored_but_never_wrote(tmp_path: Path) -> None:
    started, ended, recorded = recorded_night()
    history = tmp_path / "events.jsonl"
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        publisher = _publisher(outbox)
        for event in (started, ended, recorded):
            publisher.publish_event(event)
        publisher.publish_summary({"night": "2026-11-25", "cramps": 0})  # not an event
    # the killed run's history: the start, and a bad line; the last two never written
    history.write_text(dumps(started) + "\n" + "{not json\n")
    settings = Settings()
    evening = datetime.fromisoformat(EVENING).timestamp() + 60.0
    for _restart in range(2):  # the second start finds nothing to add
        with Outbox(tmp_path / "outbox.sqlite3") as outbox:
            publisher = _publisher(outbox)
            assert [e.event_id for e in publisher.unacknowledged_events()] == [
                started.event_id, ended.event_id, recorded.event_id]
            daemon = Daemon(settings, wearables=[], state_dir=tmp_path, publisher=publisher,
                            wall=lambda: evening)
            lines = history.read_text().splitlines()
            assert lines[2:] == [dumps(ended), dumps(recorded)]  # whole, in order, once
            assert daemon.summary.cramps == 2 and daemon.summary.recorded == 1
            assert daemon.summary.total_cramp_s == 75.0
    assert oct(history.stat().st_mode & 0o777) == "0o600"


def test_without_mqtt_nothing_is_recovered_and_nothing_breaks(tmp_path: Path) -> None:
    history = tmp_path / "events.jsonl"
    sink = EventSink(history_path=history, publisher=None, prompt=None, printer=None,
                     summary=NightSummary(night="2026-11-26"))
    assert sink.recover(recorded_night()[:1]) == 1  # what it is given, it writes
    assert sink.recover(recorded_night()[:1]) == 0  # once
    assert _history_ids(history) == ["s:left:1:started"]
