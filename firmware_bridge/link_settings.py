"""Settings of the wearable link (BLE): which wearable, timeouts, recovery ladder, queue bound.

Pure data (no bleak import). ``firmware_bridge/ble_client.py`` takes one ``WearableSettings`` per
wearable; two wearables (left and right calf) are two instances. The recovery ladder and its
numbers follow ``shared/notes/ble.md`` §1 ("Reconnect pitfalls", "Recovery ladder").
"""

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
    scan_timeout_s: float = field(
        default=10.0,
        metadata={
            "doc": "Scan this long for the wearable's advertisement before a connect cycle fails.",
            "min": 0.1,
            "max": 300.0,
        },
    )
    connect_timeout_s: float = field(
        default=20.0,
        metadata={
            # Home Assistant Bluetooth developer docs: connect timeouts of at least 10 s (BlueZ
            # resolves services on first connection); bleak-retry-connector uses 20 s.
            "doc": "Timeout of one connection attempt (s); BlueZ needs at least 10 s.",
            "min": 10.0,
            "max": 120.0,
        },
    )
    connect_attempts: int = field(
        default=4,
        metadata={
            "doc": "Attempts inside one bleak-retry-connector establish_connection call.",
            "min": 1,
            "max": 10,
        },
    )
    silence_timeout_s: float = field(
        default=3.0,
        metadata={
            # ble.md recovery ladder rung 2: "connected but no valid packet for ~3 s"; the
            # wearable sends 20-25 notifications/s, so 3 s is 60+ missing notifications.
            "doc": "Connected but no notification for this long (s): drop the link, reconnect.",
            "min": 0.5,
            "max": 60.0,
        },
    )
    disconnect_timeout_s: float = field(
        default=5.0,
        metadata={
            "doc": "Bound on disconnecting the old client before the next one (s).",
            "min": 0.5,
            "max": 30.0,
        },
    )
    backoff_base_s: float = field(
        default=1.0,
        metadata={
            "doc": "First delay between connect cycles (s); doubles per failed cycle.",
            "min": 0.0,
            "max": 60.0,
        },
    )
    backoff_cap_s: float = field(
        default=60.0,
        metadata={
            "doc": "Longest delay between connect cycles (s).",
            "min": 1.0,
            "max": 600.0,
        },
    )
    backoff_jitter: float = field(
        default=0.2,
        metadata={
            "doc": "Fraction of each delay drawn at random (0 = none), so two clients desync.",
            "min": 0.0,
            "max": 1.0,
        },
    )
    power_cycle_after_failures: int = field(
        default=6,
        metadata={
            "doc": "Connect cycles in a row without data before the adapter is power-cycled.",
            "min": 1,
            "max": 1000,
        },
    )
    exit_after_failures: int = field(
        default=12,
        metadata={
            "doc": "Cycles in a row without data before giving up (exit; systemd restarts).",
            "min": 1,
            "max": 10000,
        },
    )
    queue_packets: int = field(
        default=512,
        metadata={
            # ~20 s of notifications at 25/s (ble.md §1: "bounded queue, ~10-20 s deep").
            "doc": "Notifications buffered for a slow consumer; beyond this they are dropped.",
            "min": 8,
            "max": 1_000_000,
        },
    )
    battery_poll_s: float = field(
        default=300.0,
        metadata={
            "doc": "Read the battery level this often while connected (s).",
            "min": 10.0,
            "max": 86400.0,
        },
    )
