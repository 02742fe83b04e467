"""Settings of the wearable link (BLE) and of raw session recordings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class WearableSettings:
    address: str = field(
        default="",
        metadata={"doc": "BLE address of the wearable; empty = find it by name."},
    )
    name: str = field(
        default="crampwatch",
        metadata={"doc": "Advertised name to scan for when no address is given."},
    )
