"""Topic layout and Home Assistant MQTT discovery payloads: pure functions, no I/O, no paho.

Device-based discovery (HA >= 2024.12): one retained message on
``<prefix>/device/crampwatch_<node>/config`` whose ``components`` hold every entity. The legacy
switch gives one retained message per entity on
``<prefix>/<platform>/crampwatch_<node>_<key>/config`` (older HA, openHAB).
Sources: home-assistant.io ``mqtt.markdown`` ("Device discovery payload"),
``event.mqtt.markdown``, ``button.mqtt.markdown``; /work/shared/notes/ecosystem.md §1.

``object_id`` is deliberately never set (deprecated in HA 2025.10); HA derives entity ids from
the device name and the short entity names.

One device per bedside unit. Each wearable (leg) has its own entities (``<leg>_battery``, …) and
topics (``wearable/<leg>/battery``); a single unnamed wearable (leg ``""``) keeps the plain keys
and topics. Diagnostic entities (version, running since, outbox, prompt failures, problem, and
per leg last data and packet loss) read JSON states through ``value_template``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1  # the "schema" field of every JSON payload; bump on incompatible change
# Home Assistant's "Visit" link and systemd's Documentation=: the README of the repository
# (tests keep systemd/crampwatch.service in step).
SUPPORT_URL = "https://github.com/crampwatch/crampwatch/blob/main/README.md"

# Retained states of the whole bedside unit: publish_state(name, value) -> topic relative to
# the base topic.
NODE_STATES: dict[str, str] = {
    "cramp_active": "cramp/active",  # ON / OFF: any leg cramping
    "cramp_legs": "cramp/legs",  # JSON {"schema", "legs": [legs cramping now]}
    "last": "cramp/last",  # JSON {"schema", "event_id", "leg", "duration_s", "label", ...}
    "count_tonight": "cramp/count_tonight",  # integer, reset to 0 each night
    "bedtime": "bedtime/state",  # JSON: last bedtime reminder or "stretch done" of the night
    "diagnostics": "diagnostics",  # JSON, see DIAGNOSTICS_FIELDS
    "problem": "problem",  # JSON {"schema", "problem": first code or "none", "problems": [...]}
}
# Retained states of one wearable (leg). With one unnamed wearable (leg "") the topics are the
# ones below; with named legs the leg is the second level: wearable/left/battery, ble/left/state.
LEG_STATES: dict[str, str] = {
    "battery": "wearable/battery",  # % 0..100
    "signal_quality": "wearable/signal_quality",  # % of the last minute's signal that was good
    "posture": "wearable/posture",  # one of POSTURES
    "link_state": "ble/state",  # one of LINK_STATES
    "wearable_available": "wearable/availability",  # online / offline: is the strap streaming
    "link": "wearable/link",  # JSON, see LINK_FIELDS
}
STATE_TOPICS: dict[str, str] = {**NODE_STATES, **LEG_STATES}
DIAGNOSTICS_FIELDS = ("version", "started", "outbox_pending", "prompt_failures")
LINK_FIELDS = ("last_data", "packet_loss_pct", "rssi_at_scan_dbm")
LINK_STATES = ("connected", "connecting", "disconnected", "adapter_error")
# The detector says "unknown" without valid accelerometer data (a dead IMU); Home Assistant
# shows its own "unknown" for a sensor without a value, so the option is called no_data here.
POSTURES = ("lying", "upright", "no_data")
POSTURE_STATE = {"lying": "lying", "upright": "upright", "unknown": "no_data"}
# cramp_recorded: a cramp recognised only after it ended (counted, never prompted; issue 15)
EVENT_TYPES = ("cramp_started", "cramp_ended", "cramp_recorded")
EVENT_TOPIC = "cramp/event"  # JSON, QoS 1, never retained (HA ignores retained events)
SUMMARY_TOPIC = "summary/night"  # JSON, retained, QoS 1
STATUS_TOPIC = "status"  # online / offline (the will), retained, QoS 1
COMMANDS = ("test_prompt", "silence", "label_last", "stretch_done")  # subscribed as cmd/<name>

# HA's button has a fixed payload_press, but its command_template is rendered by HA at press
# time, so the payload can carry the press time; crampwatch drops presses older than
# command_max_age_s (a late delivery after an outage must not play a prompt at 03:00).
BUTTON_COMMAND_TEMPLATE = '{"value": "{{ value }}", "ts": "{{ now().isoformat() }}"}'


def leg_relative(relative: str, leg: str) -> str:
    """``wearable/battery`` for leg "" (one unnamed wearable), ``wearable/left/battery``."""
    if not leg:
        return relative
    head, _, tail = relative.partition("/")
    return f"{head}/{leg}/{tail}"


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

    def state(self, name: str, leg: str = "") -> str:
        """A node state (``leg`` empty) or one leg's state; ValueError for an unknown name."""
        if name in LEG_STATES:
            return self.of(leg_relative(LEG_STATES[name], leg))
        if name in NODE_STATES and not leg:
            return self.of(NODE_STATES[name])
        raise ValueError(
            f"unknown state {name!r} (leg {leg!r}); node states: {', '.join(NODE_STATES)}; "
            f"leg states: {', '.join(LEG_STATES)}"
        )

    def command(self, name: str) -> str:
        return self.of(f"cmd/{name}")

    @property
    def command_filter(self) -> str:
        return self.of("cmd/+")


def leg_title(leg: str, name: str) -> str:
    """An entity name with its leg: ``Wearable battery`` -> ``Left wearable battery``."""
    return f"{leg.capitalize()} {name[0].lower()}{name[1:]}" if leg else name


def _entity(uid: str, key: str, platform: str, name: str, **config: Any) -> dict[str, Any]:
    return {"platform": platform, "unique_id": f"{uid}_{key}", "name": name, **config}


DIAGNOSTIC = {"entity_category": "diagnostic"}


def _leg_components(topics: Topics, uid: str, leg: str) -> list[dict[str, Any]]:
    """One wearable's entities; keys and names carry the leg when it has one."""
    status = {"topic": topics.status}
    strap = [status, {"topic": topics.state("wearable_available", leg)}]
    prefix = f"{leg}_" if leg else ""

    def sensor(key: str, name: str, state: str, *, on_strap: bool, **config: Any) -> dict[str, Any]:
        extra: dict[str, Any] = {"availability": strap, "availability_mode": "all"}
        return _entity(
            uid, prefix + key, "sensor", leg_title(leg, name),
            state_topic=topics.state(state, leg), **(extra if on_strap else {}), **config,
        )

    return [
        # Battery and the link JSON are re-sent every state_refresh_s (< expire_after), so
        # they go unknown only when the daemon or the link is really gone.
        sensor(
            "battery", "Wearable battery", "battery", on_strap=True, device_class="battery",
            state_class="measurement", unit_of_measurement="%", expire_after=900, **DIAGNOSTIC,
        ),
        sensor(
            "signal_quality", "Signal quality", "signal_quality", on_strap=True,
            state_class="measurement", unit_of_measurement="%", icon="mdi:sine-wave",
            **DIAGNOSTIC,
        ),
        sensor(
            "posture", "Leg posture", "posture", on_strap=True, device_class="enum",
            options=list(POSTURES), icon="mdi:human", **DIAGNOSTIC,
        ),
        sensor(
            "ble_link", "Wearable link", "link_state", on_strap=False, device_class="enum",
            options=list(LINK_STATES), **DIAGNOSTIC,
        ),
        sensor(
            "last_data", "Last data", "link", on_strap=False, device_class="timestamp",
            value_template="{{ value_json.last_data }}", json_attributes_topic=topics.state(
                "link", leg), icon="mdi:clock-check-outline", **DIAGNOSTIC,
        ),
        sensor(
            "packet_loss", "Packet loss", "link", on_strap=False, state_class="measurement",
            unit_of_measurement="%", value_template="{{ value_json.packet_loss_pct }}",
            icon="mdi:lan-disconnect", **DIAGNOSTIC,
        ),
    ]


def _node_components(topics: Topics, uid: str, legs: tuple[str, ...]) -> list[dict[str, Any]]:
    """The entities of the bedside unit as a whole."""
    status = {"topic": topics.status}
    # One wearable: the cramp state is unknown while its strap is off. Two: either may watch.
    cramp_availability = (
        {"availability": [status, {"topic": topics.state("wearable_available", legs[0])}],
         "availability_mode": "all"}
        if len(legs) == 1 else {}
    )

    def button(key: str, name: str, command: str, press: str, **config: Any) -> dict[str, Any]:
        return _entity(
            uid, key, "button", name, command_topic=topics.command(command), payload_press=press,
            command_template=BUTTON_COMMAND_TEMPLATE, retain=False, **config,
        )

    def diagnostic(key: str, name: str, field: str, **config: Any) -> dict[str, Any]:
        return _entity(
            uid, key, "sensor", name, state_topic=topics.state("diagnostics"),
            value_template=f"{{{{ value_json.{field} }}}}", **DIAGNOSTIC, **config,
        )

    return [
        _entity(
            uid, "cramp", "binary_sensor", "Cramp", device_class="problem",
            state_topic=topics.state("cramp_active"), payload_on="ON", payload_off="OFF",
            json_attributes_topic=topics.state("cramp_legs"), **cramp_availability,
        ),
        _entity(
            uid, "cramp_event", "event", "Cramp event", state_topic=topics.event,
            event_types=list(EVENT_TYPES),
        ),
        _entity(
            uid, "last_duration", "sensor", "Last cramp duration", device_class="duration",
            state_class="measurement", unit_of_measurement="s", state_topic=topics.state("last"),
            value_template="{{ value_json.duration_s }}",
            json_attributes_topic=topics.state("last"),
        ),
        _entity(
            uid, "count_tonight", "sensor", "Cramps tonight", state_class="total_increasing",
            state_topic=topics.state("count_tonight"), icon="mdi:counter",
        ),
        _entity(
            uid, "bedtime", "sensor", "Bedtime stretch", state_topic=topics.state("bedtime"),
            value_template="{{ 'done' if value_json.event == 'bedtime_stretch_done' "
            "else 'reminded' }}",
            json_attributes_topic=topics.state("bedtime"), icon="mdi:human-handsup",
        ),
        diagnostic("version", "Version", "version", icon="mdi:tag"),
        diagnostic("started", "Running since", "started", device_class="timestamp"),
        diagnostic(
            "outbox", "Outbox depth", "outbox_pending", state_class="measurement",
            icon="mdi:tray-full",
        ),
        diagnostic(
            "prompt_failures", "Prompt failures", "prompt_failures",
            state_class="total_increasing", icon="mdi:volume-off",
        ),
        _entity(
            uid, "problem", "sensor", "Problem", state_topic=topics.state("problem"),
            value_template="{{ value_json.problem }}",
            json_attributes_topic=topics.state("problem"), icon="mdi:alert-circle-outline",
            **DIAGNOSTIC,
        ),
        button("test_prompt", "Test prompt", "test_prompt", "PRESS", device_class="identify"),
        button("silence", "Silence prompt", "silence", "PRESS", icon="mdi:volume-off"),
        button(
            "label_false", "That was not a cramp", "label_last", "false_alarm",
            icon="mdi:close-circle-outline",
        ),
        button(
            "stretch_done", "Bedtime stretch done", "stretch_done", "PRESS",
            icon="mdi:human-handsup",
        ),
    ]


def _components(topics: Topics, uid: str, legs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Every entity keyed by its short key; ``uid`` is ``crampwatch_<node>``."""
    if not legs or len(set(legs)) != len(legs) or ("" in legs and len(legs) > 1):
        raise ValueError(f"legs must be one unnamed leg or distinct named legs, got {legs!r}")
    items = _node_components(topics, uid, legs)
    for leg in legs:
        items += _leg_components(topics, uid, leg)
    return {item["unique_id"].removeprefix(f"{uid}_"): item for item in items}


def _device(uid: str, node: str, addresses: tuple[str, ...], sw_version: str) -> dict[str, Any]:
    device: dict[str, Any] = {
        "identifiers": [uid],
        "name": f"crampwatch {node}",
        "manufacturer": "crampwatch",
        "model": "bedside cramp detector",
        "sw_version": sw_version,
    }
    connections = [["bluetooth", address.upper()] for address in addresses if address]
    if connections:
        device["connections"] = connections
    return device


def discovery_messages(
    *,
    node: str,
    base_topic: str,
    prefix: str = "homeassistant",
    legacy: bool = False,
    sw_version: str = "0",
    legs: tuple[str, ...] = ("",),
    wearable_addresses: tuple[str, ...] = (),
) -> list[tuple[str, dict[str, Any]]]:
    """The retained discovery messages as ``[(topic, payload dict)]``.

    One message in device mode; one per entity in legacy mode. ``node`` is the node id
    ([A-Za-z0-9_-]), ``base_topic`` e.g. ``crampwatch/pi1``; ``legs`` the wearables' legs
    (``("",)``: one unnamed wearable, entities without a leg in their ids).
    """
    topics = Topics(base_topic)
    uid = f"crampwatch_{node}"
    device = _device(uid, node, wearable_addresses, sw_version)
    origin = {"name": "crampwatch", "sw_version": sw_version, "support_url": SUPPORT_URL}
    availability = [{"topic": topics.status}]
    components = _components(topics, uid, legs)
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
    *,
    node: str,
    base_topic: str,
    prefix: str = "homeassistant",
    legacy: bool = False,
    legs: tuple[str, ...] = ("",),
) -> list[str]:
    """Discovery topics to clear (empty retained payload) to remove the device from HA."""
    return [
        topic
        for topic, _ in discovery_messages(
            node=node, base_topic=base_topic, prefix=prefix, legacy=legacy, legs=legs
        )
    ]
