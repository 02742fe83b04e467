"""``crampwatch demo`` publishes only when asked and leaves nothing behind; ``crampwatch mqtt
purge`` removes a node. Through the CLI, against a real mosquitto on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from bedside.config.mqtt import MqttSettings
from bedside.live.mqtt import MqttPublisher
from bedside.live.outbox import Outbox
from tests.broker import Broker, Received, Subscriber, free_port

CRAMPWATCH = str(Path(sys.executable).with_name("crampwatch"))
OTHER = "someone/else/state"  # a retained topic of another client: it must survive


def crampwatch(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CRAMPWATCH, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        check=False,
    )


def retained_now(broker: Broker, topics: list[str]) -> dict[str, bytes]:
    """What a client subscribing now gets retained (mosquitto sends it right after SUBACK)."""
    late = Subscriber(broker, topics)
    try:
        time.sleep(0.5)
        return {m.topic: m.payload for m in late.messages if m.retain}
    finally:
        late.close()


def leave_other_retained(broker: Broker) -> None:
    other = Subscriber(broker, [OTHER])
    other.publish(OTHER, "42", retain=True)
    other.close()


def test_demo_with_mqtt_publishes_as_its_own_device_and_leaves_no_retained_topic(
    broker: Broker, tmp_path: Path
) -> None:
    leave_other_retained(broker)
    watch = Subscriber(broker, ["#"])
    try:
        done = crampwatch(
            "demo", "--mqtt", f"mqtt://127.0.0.1:{broker.port}", "--hours", "0.05",
            "--speed", "max", "--no-audio", "--out", str(tmp_path / "demo"), cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        seen: list[Received] = list(watch.messages)
    finally:
        watch.close()
    # while it ran, it was the demo device, under its own topics
    topics = {m.topic for m in seen}
    assert "homeassistant/device/crampwatch_demo/config" in topics
    assert "crampwatch/demo/cramp/event" in topics  # the simulated cramp was published
    for m in seen:
        demo = m.topic.startswith("crampwatch/demo/") or (
            m.topic.startswith("homeassistant/")
            and m.topic.split("/")[2].startswith("crampwatch_demo")
        )
        assert demo or m.topic == OTHER, m.topic
        if m.topic.split("/")[1] != "device" and m.topic.startswith("homeassistant/"):
            assert m.payload == b""  # legacy discovery topics: only ever cleared
    # with a client id of its own (mosquitto logs it on connect)
    assert "as crampwatch-demo-" in broker.log_text()
    assert "removed the demo device" in done.stdout
    # and nothing of it is retained any more; the other client's retained state is untouched
    assert retained_now(broker, ["#"]) == {OTHER: b"42"}


def test_demo_without_mqtt_never_connects_even_with_mqtt_in_the_configuration(
    broker: Broker, tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\nnode_id = "realpi"\n'
    )
    done = crampwatch(
        "demo", "--config", str(config), "--hours", "0.02", "--speed", "max", "--no-audio",
        "--out", str(tmp_path / "demo"), cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    time.sleep(0.3)  # mosquitto's log lags a little
    # no MQTT client ever connected (the fixture's readiness probe opens TCP only)
    assert "New client connected" not in broker.log_text()
    assert "realpi" not in broker.log_text()


async def _publish_node(broker: Broker, tmp_path: Path, node: str) -> None:
    """A daemon's publisher for two legs: discovery, per-leg states, a summary; then stopped."""
    settings = MqttSettings(enabled=True, host="127.0.0.1", port=broker.port, node_id=node)
    outbox = Outbox(tmp_path / f"{node}.sqlite3")
    pub = MqttPublisher(settings, outbox, on_command=lambda _c: None,
                        loop=asyncio.get_running_loop(), legs=("left", "right"))
    for leg in ("left", "right"):
        pub.publish_state("battery", 80, leg)
        pub.publish_state("wearable_available", "online", leg)
    pub.publish_state("count_tonight", 0)
    pub.start()
    deadline = time.monotonic() + 10
    while not pub.connected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    pub.publish_summary({"night": "2026-12-01", "cramps": 0})
    await pub.stop()
    outbox.close()


def test_mqtt_purge_removes_a_two_leg_node_and_nothing_else(
    broker: Broker, tmp_path: Path
) -> None:
    leave_other_retained(broker)
    asyncio.run(_publish_node(broker, tmp_path, "pi7"))
    before = retained_now(broker, ["#"])
    assert "homeassistant/device/crampwatch_pi7/config" in before
    assert "crampwatch/pi7/wearable/right/battery" in before
    assert "crampwatch/pi7/summary/night" in before
    config = tmp_path / "c.toml"
    config.write_text(
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nnode_id = "pi7"\n'
        '[[wearable]]\nleg = "left"\naddress = "AA:BB:CC:DD:EE:01"\n'
        '[[wearable]]\nleg = "right"\naddress = "AA:BB:CC:DD:EE:02"\n'
    )
    done = crampwatch("mqtt", "purge", "--config", str(config), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["node"] == "pi7"
    assert result["retained_found"] == len([t for t in before if t.startswith("crampwatch/pi7/")])
    assert set(before) - {OTHER} <= set(result["cleared"])
    # the legacy per-entity topics of both legs are cleared too (an HA before 2024.12)
    assert "homeassistant/sensor/crampwatch_pi7_right_battery/config" in result["cleared"]
    assert retained_now(broker, ["#"]) == {OTHER: b"42"}


def test_mqtt_purge_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    done = crampwatch("mqtt", "purge", "--mqtt", f"mqtt://127.0.0.1:{port}", "--node", "x",
                      cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("crampwatch: MQTT broker 127.0.0.1:")
    assert "Traceback" not in done.stderr
    done = crampwatch("mqtt", "purge", "--mqtt", f"mqtt://127.0.0.1:{port}", "--node", "a b",
                      cwd=tmp_path)
    assert done.returncode == 78 and "node_id" in done.stderr and "Traceback" not in done.stderr
    done = crampwatch("mqtt", "purge", "--mqtt", "http://x", cwd=tmp_path)
    assert done.returncode == 78 and "--mqtt" in done.stderr
    done = crampwatch("mqtt", cwd=tmp_path)
    assert done.returncode == 2
