"""Home Assistant discovery payloads (pure) and the MQTT settings checks.

``check_component`` encodes the parts of HA's MQTT discovery schema we rely on (home-assistant.io
``mqtt.markdown`` "Device discovery payload" and the per-platform pages; HA core
``mqtt/abbreviations.py`` for the accepted keys): required keys per platform, known keys only,
unique ids, availability and the device block. The broker tests reuse it on what arrives.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bedside.config.mqtt import MqttSettings
from bedside.config.settings import Settings, load_settings
from bedside.live.ha_discovery import (
    COMMANDS,
    EVENT_TYPES,
    LINK_STATES,
    POSTURES,
    STATE_TOPICS,
    Topics,
    discovery_messages,
)

COMMON = {
    "platform",
    "unique_id",
    "name",
    "availability",
    "availability_mode",
    "device_class",
    "entity_category",
    "enabled_by_default",
    "icon",
    "qos",
    "json_attributes_topic",
    "json_attributes_template",
    "device",
    "origin",
    "encoding",
}
PLATFORM_KEYS: dict[str, tuple[set[str], set[str]]] = {  # platform -> (required, optional)
    "binary_sensor": (
        {"state_topic"},
        {"payload_on", "payload_off", "value_template", "expire_after", "off_delay"},
    ),
    "sensor": (
        {"state_topic"},
        {
            "state_class",
            "unit_of_measurement",
            "value_template",
            "expire_after",
            "options",
            "suggested_display_precision",
        },
    ),
    "event": ({"state_topic", "event_types"}, {"value_template"}),
    "button": ({"command_topic"}, {"payload_press", "command_template", "retain"}),
}
SENSOR_DEVICE_CLASSES = {"duration", "battery", "signal_strength", "enum", "timestamp"}
ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def check_component(component: dict[str, Any], base: str, *, legacy_platform: str = "") -> None:
    """``legacy_platform``: the platform from a per-entity topic (its payload has none)."""
    if legacy_platform:
        assert "platform" not in component
        platform = legacy_platform
    else:
        platform = str(component.get("platform"))
    assert platform in PLATFORM_KEYS, component
    required, optional = PLATFORM_KEYS[platform]
    assert required <= component.keys(), (platform, required - component.keys())
    unknown = component.keys() - required - optional - COMMON
    assert not unknown, f"keys HA does not know for {platform}: {unknown}"
    assert "object_id" not in component  # deprecated in HA 2025.10, removed 2026.4
    assert ID_RE.match(component["unique_id"])
    for key in ("state_topic", "command_topic", "json_attributes_topic"):
        if key in component:
            assert component[key].startswith(base + "/"), component[key]
            assert "+" not in component[key] and "#" not in component[key]
    for entry in component.get("availability", []):
        assert entry.keys() <= {
            "topic",
            "payload_available",
            "payload_not_available",
            "value_template",
        }
        assert entry["topic"].startswith(base + "/")
    if component.get("availability_mode") is not None:
        assert component["availability_mode"] in {"all", "any", "latest"}
    if platform == "sensor" and component.get("device_class") == "enum":
        # HA refuses state_class and unit on enum sensors (sensor/__init__.py)
        assert component["options"] and not {"state_class", "unit_of_measurement"} & set(component)
    if platform == "sensor" and "device_class" in component:
        assert component["device_class"] in SENSOR_DEVICE_CLASSES
    if platform == "event":
        assert component["event_types"] and all(
            isinstance(t, str) for t in component["event_types"]
        )


def check_device_payload(
    topic: str, payload: dict[str, Any], *, prefix: str, base: str, node: str
) -> None:
    assert topic == f"{prefix}/device/crampwatch_{node}/config"
    assert {"device", "origin", "components"} <= payload.keys()
    assert payload["device"]["identifiers"] == [f"crampwatch_{node}"]
    assert payload["device"]["name"]
    assert payload["origin"]["name"] == "crampwatch" and "sw_version" in payload["origin"]
    assert payload["availability"] == [{"topic": f"{base}/status"}]
    components = payload["components"]
    ids = [c["unique_id"] for c in components.values()]
    assert len(ids) == len(set(ids))
    for key, component in components.items():
        assert ID_RE.match(key)
        assert component["unique_id"] == f"crampwatch_{node}_{key}"
        check_component(component, base)


def test_device_discovery_is_one_valid_message_with_every_entity() -> None:
    [(topic, payload)] = discovery_messages(
        node="pi1",
        base_topic="crampwatch/pi1",
        sw_version="1.2.3",
        wearable_addresses=("aa:bb:cc:dd:ee:ff",),
    )
    check_device_payload(topic, payload, prefix="homeassistant", base="crampwatch/pi1", node="pi1")
    components = payload["components"]
    platforms = {key: c["platform"] for key, c in components.items()}
    assert platforms == {
        "cramp": "binary_sensor",
        "cramp_event": "event",
        "last_duration": "sensor",
        "count_tonight": "sensor",
        "battery": "sensor",
        "signal_quality": "sensor",
        "posture": "sensor",
        "ble_link": "sensor",
        "last_data": "sensor",
        "packet_loss": "sensor",
        "version": "sensor",
        "started": "sensor",
        "outbox": "sensor",
        "prompt_failures": "sensor",
        "problem": "sensor",
        "test_prompt": "button",
        "silence": "button",
        "label_false": "button",
        "stretch_done": "button",
        "bedtime": "sensor",
    }
    assert components["cramp_event"]["event_types"] == list(EVENT_TYPES)
    assert components["ble_link"]["options"] == list(LINK_STATES)
    assert components["posture"]["options"] == list(POSTURES)
    assert components["cramp"]["availability_mode"] == "all"
    assert payload["device"]["connections"] == [["bluetooth", "AA:BB:CC:DD:EE:FF"]]
    assert payload["origin"]["sw_version"] == "1.2.3"
    assert "unknown" not in components["posture"]["options"]  # HA's own state name
    diagnostics = {k for k, c in components.items() if c.get("entity_category") == "diagnostic"}
    assert {"version", "started", "last_data", "packet_loss", "outbox", "prompt_failures",
            "problem", "battery", "signal_quality"} <= diagnostics
    assert components["last_data"]["device_class"] == "timestamp"
    assert components["started"]["device_class"] == "timestamp"
    commands = {
        c["command_topic"].rsplit("/", 1)[1]
        for c in components.values()
        if c["platform"] == "button"
    }
    assert commands == set(COMMANDS)
    # Every button press carries its press time so late deliveries can be dropped.
    assert all(
        "now()" in c["command_template"] for c in components.values() if c["platform"] == "button"
    )
    state_topics = {c["state_topic"] for c in components.values() if "state_topic" in c}
    expected = {f"crampwatch/pi1/{t}" for t in STATE_TOPICS.values()} - {
        "crampwatch/pi1/wearable/availability",  # availability, not a state, of the entities
        "crampwatch/pi1/cramp/legs",  # attributes of Cramp
    } | {"crampwatch/pi1/cramp/event"}
    assert state_topics == expected


def test_legacy_discovery_is_one_valid_message_per_entity() -> None:
    messages = discovery_messages(node="n_2", base_topic="x/n_2", prefix="ha", legacy=True)
    [(_, device_payload)] = discovery_messages(node="n_2", base_topic="x/n_2", prefix="ha")
    assert len(messages) == len(device_payload["components"])
    for topic, config in messages:
        platform, object_id = topic.split("/")[1:3]
        assert re.fullmatch(r"ha/[a-z_]+/crampwatch_n_2_[a-z_]+/config", topic)
        assert config["unique_id"] == object_id
        assert config["device"]["identifiers"] == ["crampwatch_n_2"]
        assert config["availability"]  # inherited from the device when not its own
        check_component(config, "x/n_2", legacy_platform=platform)
        assert (
            platform
            == device_payload["components"][object_id.removeprefix("crampwatch_n_2_")]["platform"]
        )


def test_topics() -> None:
    topics = Topics("crampwatch/pi1")
    assert topics.status == "crampwatch/pi1/status"
    assert topics.state("link_state") == "crampwatch/pi1/ble/state"
    assert topics.command_filter == "crampwatch/pi1/cmd/+"
    with pytest.raises(ValueError, match="unknown state"):
        topics.state("batery")


def test_settings_resolve_node_base_and_client_id() -> None:
    s = MqttSettings(node_id="pi1")
    assert (s.resolved_base_topic(), s.resolved_client_id()) == ("crampwatch/pi1", "crampwatch-pi1")
    s = MqttSettings(node_id="a", base_topic="home/bed/{node}", client_id="me")
    assert (s.resolved_base_topic(), s.resolved_client_id()) == ("home/bed/a", "me")
    assert ID_RE.match(MqttSettings().resolved_node_id())  # from the host name


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('node_id = "pi 1"', "node_id"),
        ('base_topic = "crampwatch/#"', "wildcard"),
        ('base_topic = "/crampwatch"', "leading"),
        ('discovery_prefix = ""', "empty"),
        ("reconnect_min_delay_s = 10.0\nreconnect_max_delay_s = 5.0", "reconnect_min_delay_s"),
        ('tls_cert_file = "c.pem"', "go together"),
        ('password_file = "p"\npassword_env = "P"', "not both"),
        ("keepalive_s = 1", "below the minimum"),
        ("outbox_max_events = 0", "below the minimum"),
    ],
)
def test_bad_mqtt_settings_are_config_errors(tmp_path: Any, table: str, message: str) -> None:
    from firmware_bridge.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text(f"[mqtt]\n{table}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path)
    assert "[mqtt]" in str(info.value)


def test_defaults_are_in_the_settings() -> None:
    assert Settings().mqtt == MqttSettings()


def test_two_legs_get_their_own_entities_and_topics() -> None:
    [(_, payload)] = discovery_messages(
        node="pi1", base_topic="crampwatch/pi1", legs=("left", "right"),
        wearable_addresses=("aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"),
    )
    check_device_payload(
        "homeassistant/device/crampwatch_pi1/config", payload, prefix="homeassistant",
        base="crampwatch/pi1", node="pi1",
    )
    components = payload["components"]
    [(_, single)] = discovery_messages(node="pi1", base_topic="crampwatch/pi1")
    per_leg = {k for k in single["components"] if k in {
        "battery", "signal_quality", "posture", "ble_link", "last_data", "packet_loss"}}
    for leg in ("left", "right"):
        for key in per_leg:
            component = components[f"{leg}_{key}"]
            assert component["name"].startswith(leg.capitalize() + " ")
            assert f"/{leg}/" in component["state_topic"]
        battery = components[f"{leg}_battery"]
        assert battery["state_topic"] == f"crampwatch/pi1/wearable/{leg}/battery"
        assert components[f"{leg}_ble_link"]["state_topic"] == f"crampwatch/pi1/ble/{leg}/state"
    assert not per_leg & components.keys()  # no unnamed copies
    # either leg may watch: the shared Cramp is not tied to one strap's availability
    assert components["cramp"]["json_attributes_topic"] == "crampwatch/pi1/cramp/legs"
    assert "availability" not in components["cramp"]
    assert payload["device"]["connections"] == [
        ["bluetooth", "AA:BB:CC:DD:EE:01"], ["bluetooth", "AA:BB:CC:DD:EE:02"]]
    with pytest.raises(ValueError, match="legs"):
        discovery_messages(node="pi1", base_topic="b/pi1", legs=("left", "left"))


def test_leg_topics() -> None:
    topics = Topics("crampwatch/pi1")
    assert topics.state("battery", "left") == "crampwatch/pi1/wearable/left/battery"
    assert topics.state("link_state", "right") == "crampwatch/pi1/ble/right/state"
    with pytest.raises(ValueError, match="unknown state"):
        topics.state("count_tonight", "left")  # a node state has no leg


def test_support_url_and_the_units_documentation_are_the_readme() -> None:
    from bedside.live.ha_discovery import SUPPORT_URL
    from tests.conftest import ROOT

    unit = (ROOT / "systemd" / "crampwatch.service").read_text()
    assert f"Documentation={SUPPORT_URL}\n" in unit
    assert SUPPORT_URL.startswith("https://") and SUPPORT_URL.endswith("/README.md")


def _doc_entity_table() -> dict[str, str]:
    """docs/mqtt.md's discovery table: entity name -> platform (first word of its column)."""
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "mqtt.md").read_text()
    section = text.split("<!-- entities: begin", 1)[1].split("<!-- entities: end -->", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    table = {}
    for name_cell, platform_cell in rows[2:]:  # after the header and its --- row
        for name in name_cell.strip().split(", "):
            table[name] = platform_cell.strip().split(",")[0]
    return table


def test_docs_entity_table_matches_the_discovery_code() -> None:
    [(_, payload)] = discovery_messages(node="pi1", base_topic="crampwatch/pi1")
    code = {c["name"]: c["platform"] for c in payload["components"].values()}
    assert _doc_entity_table() == code


def test_states_are_re_sent_well_before_home_assistant_expires_them() -> None:
    """Battery is sent on change only; HA marks it unknown expire_after s after the last value,
    so the periodic re-send (state_refresh_s) must come sooner, whatever the configuration."""
    import dataclasses

    [(_, payload)] = discovery_messages(node="pi1", base_topic="crampwatch/pi1")
    expiring = [c["expire_after"] for c in payload["components"].values() if "expire_after" in c]
    assert expiring
    refresh = next(f for f in dataclasses.fields(MqttSettings) if f.name == "state_refresh_s")
    assert refresh.metadata["max"] < min(expiring)
    assert MqttSettings().state_refresh_s <= min(expiring) / 2  # a lost one is not fatal
