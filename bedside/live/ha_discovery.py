"""Topic layout and Home Assistant MQTT discovery payloads: pure functions, no I/O, no paho.

Device-based discovery (HA >= 2024.12): one retained message on
``<prefix>/device/crampwatch_<node>/config`` whose ``components`` hold every entity. The legacy
switch gives one retained message per entity on
``<prefix>/<platform>/crampwatch_<node>_<key>/config`` (older HA, openHAB).
Sources: home-assistant.io ``mqtt.markdown`` ("Device discovery payload"),
``event.mqtt.markdown``, ``button.mqtt.markdown``; /work/shared/notes/ecosystem.md §1.

``object_id`` is deliberately never set (deprecated in HA 2025.10); HA derives entity ids from
the device name and the short entity names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1  # the "schema" field of every JSON payload; bump on incompatible change
SUPPORT_URL = "https://github.com/crampwatch/crampwatch"

# Retained scalar states: publish_state(name, value) -> topic relative to the base topic.
STATE_TOPICS: dict[str, str] = {
    "cramp_active": "cramp/active",  # ON / OFF
    "last": "cramp/last",  # JSON {"schema", "event_id", "duration_s", "label", ...}
    "count_tonight": "cramp/count_tonight",  # integer, reset to 0 each night
    "battery": "wearable/battery",  # % 0..100
    "signal_quality": "wearable/signal_quality",  # % 0..100
    "posture": "wearable/posture",  # one of POSTURES; "unknown": no valid accelerometer data
    "rssi": "wearable/rssi",  # dBm
    "link_state": "ble/state",  # one of LINK_STATES
    "wearable_available": "wearable/availability",  # online / offline
    "bedtime": "bedtime/state",  # JSON: last bedtime reminder or "stretch done" of the night
}
LINK_STATES = ("connected", "connecting", "disconnected", "adapter_error")
POSTURES = ("lying", "upright", "unknown")  # detector.types.PipelineStatus.posture
EVENT_TYPES = ("cramp_started", "cramp_ended")
EVENT_TOPIC = "cramp/event"  # JSON, QoS 1, never retained (HA ignores retained events)
SUMMARY_TOPIC = "summary/night"  # JSON, retained, QoS 1
STATUS_TOPIC = "status"  # online / offline (the will), retained, QoS 1
COMMANDS = ("test_prompt", "silence", "label_last", "stretch_done")  # subscribed as cmd/<name>

# HA's button has a fixed payload_press, but its command_template is rendered by HA at press
# time, so the payload can carry the press time; crampwatch drops presses older than
# command_max_age_s (a late delivery after an outage must not play a prompt at 03:00).
BUTTON_COMMAND_TEMPLATE = '{"value": "{{ value }}", "ts": "{{ now().isoformat() }}"}'


@dataclass(frozen=True, slots=True)
class Topics:
    """Absolute topics under one base topic, e.g. ``crampwatch/pi1``."""

    base: str

    def of(self, relative: str) -> str:
        return f"{self.base}/{relative}"

    @property
    def status(self) -> str:
        return self.of(STATUS_TOPIC)

    @property
    def event(self) -> str:
        return self.of(EVENT_TOPIC)

    @property
    def summary(self) -> str:
        return self.of(SUMMARY_TOPIC)

    def state(self, name: str) -> str:
        if name not in STATE_TOPICS:
            raise ValueError(f"unknown state {name!r}; known: {', '.join(STATE_TOPICS)}")
        return self.of(STATE_TOPICS[name])

    def command(self, name: str) -> str:
        return self.of(f"cmd/{name}")

    @property
    def command_filter(self) -> str:
        return self.of("cmd/+")


def _components(topics: Topics, uid: str) -> dict[str, dict[str, Any]]:
    """Every entity keyed by its short key; ``uid`` is ``crampwatch_<node>``."""
    status = {"topic": topics.status}
    strap = [status, {"topic": topics.state("wearable_available")}]
    diagnostic = {"entity_category": "diagnostic"}

    def entity(key: str, platform: str, name: str, **config: Any) -> dict[str, Any]:
        return {"platform": platform, "unique_id": f"{uid}_{key}", "name": name, **config}

    def strap_sensor(key: str, name: str, relative: str, **config: Any) -> dict[str, Any]:
        return entity(
            key,
            "sensor",
            name,
            state_topic=topics.state(relative),
            availability=strap,
            availability_mode="all",
            **config,
        )

    def button(key: str, name: str, command: str, press: str, **config: Any) -> dict[str, Any]:
        return entity(
            key,
            "button",
            name,
            command_topic=topics.command(command),
            payload_press=press,
            command_template=BUTTON_COMMAND_TEMPLATE,
            retain=False,
            **config,
        )

    items = [
        entity(
            "cramp",
            "binary_sensor",
            "Cramp",
            device_class="problem",
            state_topic=topics.state("cramp_active"),
            payload_on="ON",
            payload_off="OFF",
            availability=strap,
            availability_mode="all",
        ),
        entity(
            "cramp_event",
            "event",
            "Cramp event",
            state_topic=topics.event,
            event_types=list(EVENT_TYPES),
        ),
        entity(
            "last_duration",
            "sensor",
            "Last cramp duration",
            device_class="duration",
            state_class="measurement",
            unit_of_measurement="s",
            state_topic=topics.state("last"),
            value_template="{{ value_json.duration_s }}",
            json_attributes_topic=topics.state("last"),
        ),
        entity(
            "count_tonight",
            "sensor",
            "Cramps tonight",
            state_class="total_increasing",
            state_topic=topics.state("count_tonight"),
            icon="mdi:counter",
        ),
        entity(
            "bedtime",
            "sensor",
            "Bedtime stretch",
            state_topic=topics.state("bedtime"),
            value_template="{{ 'done' if value_json.event == 'bedtime_stretch_done' "
            "else 'reminded' }}",
            json_attributes_topic=topics.state("bedtime"),
            icon="mdi:human-handsup",
        ),
        strap_sensor(
            "battery",
            "Wearable battery",
            "battery",
            device_class="battery",
            state_class="measurement",
            unit_of_measurement="%",
            expire_after=900,
            **diagnostic,
        ),
        strap_sensor(
            "signal_quality",
            "Signal quality",
            "signal_quality",
            state_class="measurement",
            unit_of_measurement="%",
            icon="mdi:sine-wave",
            **diagnostic,
        ),
        strap_sensor(
            "posture",
            "Leg posture",
            "posture",
            device_class="enum",
            options=list(POSTURES),
            icon="mdi:human",
            **diagnostic,
        ),
        strap_sensor(
            "rssi",
            "Wearable RSSI",
            "rssi",
            device_class="signal_strength",
            state_class="measurement",
            unit_of_measurement="dBm",
            expire_after=900,
            enabled_by_default=False,
            **diagnostic,
        ),
        entity(
            "ble_link",
            "sensor",
            "Wearable link",
            device_class="enum",
            options=list(LINK_STATES),
            state_topic=topics.state("link_state"),
            **diagnostic,
        ),
        button("test_prompt", "Test prompt", "test_prompt", "PRESS", device_class="identify"),
        button("silence", "Silence prompt", "silence", "PRESS", icon="mdi:volume-off"),
        button(
            "label_false",
            "That was not a cramp",
            "label_last",
            "false_alarm",
            icon="mdi:close-circle-outline",
        ),
        button(
            "stretch_done",
            "Bedtime stretch done",
            "stretch_done",
            "PRESS",
            icon="mdi:human-handsup",
        ),
    ]
    return {item["unique_id"].removeprefix(f"{uid}_"): item for item in items}


def _device(uid: str, node: str, wearable_address: str) -> dict[str, Any]:
    device: dict[str, Any] = {
        "identifiers": [uid],
        "name": f"crampwatch {node}",
        "manufacturer": "crampwatch",
        "model": "bedside cramp detector",
    }
    if wearable_address:
        device["connections"] = [["bluetooth", wearable_address.upper()]]
    return device


def discovery_messages(
    *,
    node: str,
    base_topic: str,
    prefix: str = "homeassistant",
    legacy: bool = False,
    sw_version: str = "0",
    wearable_address: str = "",
) -> list[tuple[str, dict[str, Any]]]:
    """The retained discovery messages as ``[(topic, payload dict)]``.

    One message in device mode; one per entity in legacy mode. ``node`` is the node id
    ([A-Za-z0-9_-]), ``base_topic`` e.g. ``crampwatch/pi1``.
    """
    topics = Topics(base_topic)
    uid = f"crampwatch_{node}"
    device = _device(uid, node, wearable_address)
    origin = {"name": "crampwatch", "sw_version": sw_version, "support_url": SUPPORT_URL}
    availability = [{"topic": topics.status}]
    components = _components(topics, uid)
    if not legacy:
        payload = {
            "device": device,
            "origin": origin,
            "availability": availability,
            "qos": 1,
            "components": components,
        }
        return [(f"{prefix}/device/{uid}/config", payload)]
    messages = []
    for key, component in components.items():
        config = {k: v for k, v in component.items() if k != "platform"}
        config.setdefault("availability", availability)
        config.update(device=device, origin=origin, qos=1)
        messages.append((f"{prefix}/{component['platform']}/{uid}_{key}/config", config))
    return messages


def removal_messages(
    *, node: str, base_topic: str, prefix: str = "homeassistant", legacy: bool = False
) -> list[str]:
    """Discovery topics to clear (empty retained payload) to remove the device from HA."""
    return [
        topic
        for topic, _ in discovery_messages(
            node=node, base_topic=base_topic, prefix=prefix, legacy=legacy
        )
    ]
