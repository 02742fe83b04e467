"""End to end: virtual wearable → ``crampwatch run`` (a subprocess) → real mosquitto → subscriber.

The subscriber sees Home Assistant discovery, ``online``, the simulated cramp as events, and
``offline`` after SIGTERM; the daemon exits 0 within a few seconds.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from bedside.live.virtual import device_info_for
from firmware_bridge.simulation import plan_night
from tests.bedside.daemon_argv import virtual_run_argv
from tests.bedside.test_daemon import direct_events
from tests.broker import Broker, Received, Subscriber

NODE = "e2e"
SEED, HOURS, PROFILE = 4, 0.1, "dense"


def events(messages: list[Received]) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in messages if m.topic == f"crampwatch/{NODE}/cramp/event"]


def test_run_publishes_discovery_online_events_and_offline(broker: Broker, tmp_path: Path) -> None:
    config = tmp_path / "crampwatch.toml"
    config.write_text(
        f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\nnode_id = "{NODE}"\n'
        f"reconnect_min_delay_s = 0.1\n"
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n[prompt]\nbackend = "none"\n'
    )
    plan = plan_night(
        seed=SEED, hours=HOURS, profile=PROFILE, emg_rate_hz=1000.0, accel_rate_hz=50.0
    )
    (cramp,) = plan.truth["cramps"]
    (expected, *_) = direct_events(plan, device_info_for(plan))
    subscriber = Subscriber(broker, [f"crampwatch/{NODE}/#", "homeassistant/#"])
    daemon = subprocess.Popen(
        virtual_run_argv(config, seed=SEED, hours=HOURS, profile=PROFILE, speed=8),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        subscriber.wait_for(
            lambda ms: any(
                m.topic == f"crampwatch/{NODE}/status" and m.payload == b"online" for m in ms
            ),
            timeout_s=60,
        )
        subscriber.wait_for(lambda ms: len(events(ms)) >= 1, timeout_s=120)
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=20)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, stderr[-3000:]
    messages = subscriber.wait_for(
        lambda ms: (
            bool(ms)
            and ms[-1].topic == f"crampwatch/{NODE}/status"
            and ms[-1].payload == b"offline"
        ),
        timeout_s=10,
    )
    subscriber.close()

    (discovery,) = [
        m for m in messages if m.topic == f"homeassistant/device/crampwatch_{NODE}/config"
    ]
    assert discovery.retain or discovery.qos == 1
    components = json.loads(discovery.payload)["components"]
    assert {"cramp", "cramp_event", "count_tonight", "battery", "last_data"} <= set(components)

    started = [e for e in events(messages) if e["event"] == "cramp_started"]
    assert len(started) == 1, events(messages)
    t_detect = float(started[0]["t_detect"])  # type: ignore[arg-type]
    assert cramp["onset_s"] - 0.5 <= t_detect <= cramp["end_s"] + 2.0
    # the live daemon saw exactly what the detector sees replaying the same night directly
    assert (started[0]["t_onset"], started[0]["t_detect"]) == (
        expected["t_onset"],
        expected["t_detect"],
    )
    assert started[0]["event_id"] and started[0]["leg"] in {"left", "right"}
    active = [m.payload for m in messages if m.topic == f"crampwatch/{NODE}/cramp/active"]
    assert b"ON" in active
    posture = [m.payload for m in messages if m.topic == f"crampwatch/{NODE}/wearable/posture"]
    assert posture and set(posture) <= {b"lying", b"upright"}  # the accelerometer works
    assert (tmp_path / "state" / "events.jsonl").read_text().count("cramp_started") == 1
