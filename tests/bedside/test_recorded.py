"""``cramp_recorded`` (a cramp recognised only after it ended, issue 15): counted in the night
summary, the history and the report, and never spoken about."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

from bedside.config.prompt import PromptSettings
from bedside.live.mqtt import MqttPublisher
from bedside.live.outbox import Outbox
from bedside.live.sink import EventSink
from bedside.offline.report import NightData, cramps_of, history, night_html
from bedside.prompt.engine import Phase, PromptSequencer
from bedside.stream.night import NightSummary
from bedside.stream.records import EventRecord
from tests.bedside.test_mqtt_broker import eventually, last, settings_for
from tests.broker import Broker, Subscriber
from tests.conftest import record

EVENING = "2026-11-26T23:30:00+00:00"


def recorded_night() -> list[EventRecord]:
    return [
        record({"event": "cramp_started", "event_id": "s:left:1:started", "t_onset": 100.0,
                "t_detect": 104.0, "time": EVENING}),
        record({"event": "cramp_ended", "event_id": "s:left:1:ended", "t_onset": 100.0,
                "t_end": 160.0, "duration_s": 60.0, "time": EVENING, "peak_intensity": 6.0}),
        record({"event": "cramp_recorded", "event_id": "s:left:2:recorded", "t_onset": 50.0,
                "t_detect": 70.0, "t_end": 65.0, "duration_s": 15.0, "time": EVENING,
                "peak_intensity": 3.0}),
    ]


def test_the_summary_counts_a_recorded_cramp() -> None:
    summary = NightSummary(night="2026-11-26")
    for event in recorded_night():
        summary.add(event)
    assert summary.as_json() == {"night": "2026-11-26", "cramps": 2, "recorded_cramps": 1,
                                 "total_cramp_s": 75.0, "longest_cramp_s": 60.0}


def test_the_report_lists_it_in_onset_order_and_says_it_was_not_prompted() -> None:
    rows = cramps_of(recorded_night())
    assert [(r["n"], r["stem"], r["recorded"], r["duration_s"]) for r in rows] == [
        (1, "s:left:2", True, 15.0), (2, "s:left:1", False, 60.0)]
    data = NightData(name="n", start=datetime(2026, 11, 26, 23, 0), duration_s=3600.0,
                     events=recorded_night(), trace=None, verdicts={})
    page = night_html(data, "n.png")
    assert page.count("<tr><td>") == 2 and "recorded, not prompted" in page


def test_the_history_counts_it_with_its_minutes() -> None:
    (night,) = history(recorded_night(), None, until=date(2026, 11, 26), days=1)
    assert (night.cramps, night.cramp_minutes) == (2, 75.0 / 60.0)


def test_the_prompt_never_speaks_about_it() -> None:
    seq = PromptSequencer(PromptSettings())
    recorded = recorded_night()[2]
    assert seq.on_event(recorded, 0.0, datetime(2026, 11, 26, 23, 0, tzinfo=UTC)) == []
    assert seq.phase is Phase.IDLE


class _HeardPrompt:
    """Our own seam (house-style §7): the prompt engine the sink hands events to."""

    def __init__(self) -> None:
        self.heard: list[EventRecord] = []

    async def on_event(self, event: EventRecord) -> None:
        self.heard.append(event)


async def test_the_sink_counts_and_publishes_it_but_never_prompts(
    broker: Broker, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    pub = MqttPublisher(settings_for(broker, "rec"), outbox, on_command=lambda _c: None,
                        loop=asyncio.get_running_loop())
    prompt = _HeardPrompt()
    summary = NightSummary(night="2026-11-26")
    sink = EventSink(history_path=tmp_path / "events.jsonl", publisher=pub,
                     prompt=prompt, printer=None, summary=summary)  # type: ignore[arg-type]
    sub = Subscriber(broker, ["crampwatch/rec/#"])
    try:
        pub.start()
        await eventually(lambda: pub.connected)
        for event in recorded_night():
            sink(event)
        await asyncio.sleep(0.1)  # the prompt tasks run
        assert [e.kind for e in prompt.heard] == ["cramp_started", "cramp_ended"]
        seen = await sub.until(lambda ms: sum(m.topic.endswith("/cramp/event") for m in ms) >= 3)
        kinds = [json.loads(m.payload)["event_type"] for m in seen
                 if m.topic.endswith("/cramp/event")]
        assert kinds == ["cramp_started", "cramp_ended", "cramp_recorded"]
        assert last(seen, "crampwatch/rec/cramp/count_tonight").text == "2"
        assert json.loads(last(seen, "crampwatch/rec/cramp/last").payload)["event_id"] == (
            "s:left:2:recorded")
        history = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().split()]
        assert [h["event"] for h in history] == ["cramp_started", "cramp_ended", "cramp_recorded"]
    finally:
        sub.close()
        await pub.stop()
        outbox.close()
