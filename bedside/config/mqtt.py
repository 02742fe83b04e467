"""MQTT settings (broker, TLS, credentials, topics, Home Assistant discovery, outbox bound).

Pure data: no paho import here (``bedside/live/mqtt.py`` is the only one). The password itself is
never a setting: only the file or the environment variable that holds it, so it never appears in
the configuration, in ``check-config`` output or in logs.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from firmware_bridge.errors import ConfigError

# Home Assistant discovery ids allow only these characters (HA docs, "MQTT Discovery": the
# node_id and object_id "must match [a-zA-Z0-9_-]").
_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def _topic_problem(topic: str) -> str:
    """Why ``topic`` is not a usable publish-topic prefix, or "" when it is."""
    if not topic:
        return "is empty"
    if "+" in topic or "#" in topic:
        return "contains an MQTT wildcard (+ or #)"
    if topic.startswith("/") or topic.endswith("/") or "//" in topic:
        return "has a leading, trailing or doubled '/'"
    return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    enabled: bool = field(
        default=False,
        metadata={"doc": "Publish events and states to an MQTT broker."},
    )
    host: str = field(default="localhost", metadata={"doc": "Broker host name or address."})
    port: int = field(default=1883, metadata={"doc": "Broker TCP port.", "min": 1, "max": 65535})
    node_id: str = field(
        default="",
        metadata={
            "doc": "Id of this bedside unit in topics and Home Assistant ids ([A-Za-z0-9_-]);\n"
            "empty = the host name with other characters replaced by '_'."
        },
    )
    base_topic: str = field(
        default="crampwatch/{node}",
        metadata={"doc": "Root of every crampwatch topic; '{node}' is replaced by the node id."},
    )
    client_id: str = field(
        default="",
        metadata={
            "doc": "MQTT client id; empty = 'crampwatch-<node>'. Must be unique on the broker:\n"
            "two clients with one id disconnect each other forever."
        },
    )
    username: str = field(default="", metadata={"doc": "Broker user name; empty = anonymous."})
    password_file: str = field(
        default="",
        metadata={
            "doc": "File holding the broker password (first line), e.g. a systemd credential;\n"
            "the password is never logged."
        },
    )
    password_env: str = field(
        default="",
        metadata={
            "doc": "Name of the environment variable holding the broker password (used when\n"
            "password_file is empty)."
        },
    )
    tls: bool = field(default=False, metadata={"doc": "Connect with TLS (usually port 8883)."})
    tls_ca_file: str = field(
        default="",
        metadata={"doc": "CA certificate (PEM) that signed the broker's; empty = system CAs."},
    )
    tls_cert_file: str = field(
        default="",
        metadata={"doc": "Client certificate (PEM) for brokers that require one; empty = none."},
    )
    tls_key_file: str = field(
        default="",
        metadata={"doc": "Private key (PEM) of the client certificate."},
    )
    keepalive_s: int = field(
        default=30,
        metadata={
            "doc": "MQTT keepalive (s): the broker publishes our 'offline' will after 1.5x this\n"
            "without traffic.",
            "min": 5,
            "max": 3600,
        },
    )
    reconnect_min_delay_s: float = field(
        default=1.0,
        metadata={
            "doc": "First reconnect delay (s); doubled after every failed attempt.",
            "min": 0.05,
            "max": 60.0,
        },
    )
    reconnect_max_delay_s: float = field(
        default=60.0,
        metadata={"doc": "Cap of the reconnect backoff (s).", "min": 0.1, "max": 3600.0},
    )
    discovery: bool = field(
        default=True,
        metadata={"doc": "Publish Home Assistant MQTT discovery (retained)."},
    )
    discovery_prefix: str = field(
        default="homeassistant",
        metadata={"doc": "Home Assistant discovery prefix (HA's default is 'homeassistant')."},
    )
    discovery_legacy: bool = field(
        default=False,
        metadata={
            "doc": "Publish one discovery message per entity (HA before 2024.12, openHAB)\n"
            "instead of one device message."
        },
    )
    ha_republish_min_delay_s: float = field(
        default=1.0,
        metadata={
            "doc": "When HA announces 'online' on <prefix>/status, re-publish discovery and\n"
            "states after a random delay of at least this (s) ...",
            "min": 0.0,
            "max": 60.0,
        },
    )
    ha_republish_max_delay_s: float = field(
        default=5.0,
        metadata={"doc": "... and at most this (s).", "min": 0.0, "max": 60.0},
    )
    command_max_age_s: float = field(
        default=10.0,
        metadata={
            "doc": "Commands (HA buttons) whose embedded time 'ts' is older than this (s) are\n"
            "logged and dropped; retained commands are always dropped.",
            "min": 1.0,
            "max": 3600.0,
        },
    )
    state_refresh_s: float = field(
        default=300.0,
        metadata={
            "doc": "Send every retained state again this often (s) even when unchanged: Home\n"
            "Assistant marks the battery unknown 900 s (its expire_after) after the last one.",
            "min": 10.0,
            "max": 600.0,
        },
    )
    outbox_file: str = field(
        default="outbox.sqlite3",
        metadata={
            "doc": "sqlite file of the durable event outbox; a relative path is under the\n"
            "daemon's state directory."
        },
    )
    outbox_max_events: int = field(
        default=10000,
        metadata={
            "doc": "Outbox bound: above this many unsent events the oldest are dropped (logged,\n"
            "counted).",
            "min": 10,
            "max": 10_000_000,
        },
    )
    outbox_max_age_days: float = field(
        default=30.0,
        metadata={
            "doc": "Outbox bound: unsent events older than this (days) are dropped.",
            "min": 0.01,
            "max": 3650.0,
        },
    )

    def __post_init__(self) -> None:
        if self.node_id and not _ID_RE.match(self.node_id):
            raise ValueError(f"node_id {self.node_id!r}: use only letters, digits, '_' and '-'")
        problem = _topic_problem(self.base_topic.replace("{node}", "node"))
        if problem:
            raise ValueError(f"base_topic {self.base_topic!r} {problem}")
        problem = _topic_problem(self.discovery_prefix)
        if problem:
            raise ValueError(f"discovery_prefix {self.discovery_prefix!r} {problem}")
        if self.reconnect_min_delay_s > self.reconnect_max_delay_s:
            raise ValueError("reconnect_min_delay_s is above reconnect_max_delay_s")
        if self.ha_republish_min_delay_s > self.ha_republish_max_delay_s:
            raise ValueError("ha_republish_min_delay_s is above ha_republish_max_delay_s")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if self.password_file and self.password_env:
            raise ValueError("set password_file or password_env, not both")

    def resolved_node_id(self) -> str:
        """``node_id``, or the host name made safe for topics and HA ids."""
        if self.node_id:
            return self.node_id
        return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "crampwatch"

    def resolved_base_topic(self) -> str:
        """The topic root, e.g. ``crampwatch/pi1``."""
        return self.base_topic.replace("{node}", self.resolved_node_id())

    def resolved_client_id(self) -> str:
        """The MQTT client id, e.g. ``crampwatch-pi1``."""
        return self.client_id or f"crampwatch-{self.resolved_node_id()}"


def parse_broker_url(url: str, option: str = "--mqtt") -> tuple[str, int]:
    """``mqtt://HOST:PORT`` (or ``tcp://``; port 1883 when left out) -> ``(host, port)``;
    ``ConfigError`` naming ``option`` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port or 1883
    except ValueError as exc:
        raise ConfigError(f"{option}: expected mqtt://HOST:PORT, got {url!r}: {exc}") from exc
    if parts.scheme not in {"mqtt", "tcp"} or not parts.hostname:
        raise ConfigError(f"{option}: expected mqtt://HOST:PORT, got {url!r}")
    return parts.hostname, port
