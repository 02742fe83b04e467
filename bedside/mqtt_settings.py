"""MQTT settings (broker, TLS, credentials, topics, Home Assistant discovery)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    enabled: bool = field(
        default=False,
        metadata={"doc": "Publish events and states to an MQTT broker."},
    )
    host: str = field(default="localhost", metadata={"doc": "Broker host name or address."})
    port: int = field(default=1883, metadata={"doc": "Broker TCP port.", "min": 1, "max": 65535})
