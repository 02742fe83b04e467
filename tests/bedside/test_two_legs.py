"""Two wearables end to end: two virtual wearables (one per leg, each on its own virtual air)
→ the production BLE client → one daemon → a real mosquitto. Each leg gets its own entities and
states; every event carries its leg; the per-leg status is there for local fault alerts."""

from __future__ import annotations

import json
from pathlib import Path

from bedside.config.daemon import DaemonSettings
from bedside.config.mqtt import MqttSettings
from bedside.config.settings import Settings
from bedside.live.service import run_night
from bedside.live.virtual import start_virtual
from detector.types import Quality
from firmware_bridge.protocol import Leg
from tests.broker import Broker, Subscriber
from tests.conftest import as_json

NODE = "twolegs"
BASE = f"crampwatch/{NODE}"


async def test_two_virtual_wearables_each_leg_its_entities_states_and_events(
    broker: Broker, tmp_path: Path
) -> None:
    left = await start_virtual(seed=3, hours=0.05, profile="dense", speed=None, leg=Leg.LEFT)
    right = await start_virtual(seed=5, hours=0.05, profile="quiet", speed=None, leg=Leg.RIGHT)
    state = tmp_path / "state"
    settings = Settings(
        daemon=DaemonSettings(state_dir=str(state), status_interval_s=0.5),
        mqtt=MqttSettings(enabled=True, host="127.0.0.1", port=broker.port, node_id=NODE),
    )
    watch = Subscriber(broker, [f"{BASE}/#", "homeassistant/#"])
    try:
        result = await run_night(settings, state_dir=state, virtual=[left, right],
                                 with_prompt=False)
        seen = list(watch.messages)
    finally:
        watch.close()
    assert not result.link_failed
    # both wearables streamed their whole night into their own worker
    for worker, air in zip(result.daemon.workers, (left, right), strict=True):
        assert worker.statistics().frames == air.wearable.statistics().sent
    assert [w.leg for w in result.daemon.workers] == ["left", "right"]

    # one device, with each leg's own entities
    (discovery,) = [m for m in seen if m.topic == f"homeassistant/device/crampwatch_{NODE}/config"]
    components = json.loads(discovery.payload)["components"]
    for leg in ("left", "right"):
        for key in ("battery", "signal_quality", "posture", "ble_link", "last_data",
                    "packet_loss"):
            assert f"{leg}_{key}" in components, (leg, key)
    assert "battery" not in components

    # each leg's states on its own topics
    def payloads(topic: str) -> list[bytes]:
        return [m.payload for m in seen if m.topic == topic]

    for leg in ("left", "right"):
        assert payloads(f"{BASE}/wearable/{leg}/battery")[-1] == b"87"
        assert b"connected" in payloads(f"{BASE}/ble/{leg}/state")
        assert b"online" in payloads(f"{BASE}/wearable/{leg}/availability")
        quality = [float(p) for p in payloads(f"{BASE}/wearable/{leg}/signal_quality")
                   if p != b"None"]
        assert quality and all(0.0 <= q <= 100.0 for q in quality)
        assert payloads(f"{BASE}/wearable/{leg}/posture")[-1] in {b"lying", b"upright"}
        link = json.loads(payloads(f"{BASE}/wearable/{leg}/link")[-1])
        assert link["last_data"] and link["packet_loss_pct"] == 0.0
    assert not [m for m in seen if m.topic.startswith(f"{BASE}/wearable/battery")]

    # every event names its leg; the left leg's simulated cramp reached MQTT as the left's
    events = [json.loads(m.payload) for m in seen if m.topic == f"{BASE}/cramp/event"]
    assert events and all(e["leg"] in {"left", "right"} for e in events)
    assert {e["leg"] for e in events if e["event"] == "cramp_started"} == {"left"}
    assert all(e["leg"] in {"left", "right"} for e in as_json(result.summary.events))
    legs_cramping = [json.loads(p)["legs"] for p in payloads(f"{BASE}/cramp/legs")]
    assert ["left"] in legs_cramping and legs_cramping[-1] == []

    # the per-leg status the daemon offers (local fault alerts read it)
    statuses = result.daemon.leg_statuses()
    assert [s.leg for s in statuses] == ["left", "right"]
    for s in statuses:
        assert s.battery_percent == 87 and s.last_data is not None
        assert not s.streaming and s.link_lost_s >= 0.0  # the nights are over
        assert s.quality is None or isinstance(s.quality, Quality)

    diagnostics = json.loads(payloads(f"{BASE}/diagnostics")[-1])
    assert diagnostics["version"] and diagnostics["started"]
    assert diagnostics["outbox_pending"] >= 0 and diagnostics["prompt_failures"] == 0
