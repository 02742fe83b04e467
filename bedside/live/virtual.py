"""A virtual wearable for ``crampwatch demo`` and ``crampwatch run --virtual``: no hardware.

A simulated night (``sim:SEED``) is played by ``firmware_bridge.virtual_wearable`` on a bumble
software controller; the daemon's production ``BleClient`` reaches it through bleak's
``backend=`` hook (``firmware_bridge.bumble_backend``), exactly as it reaches the real wearable
through BlueZ.

bumble is the optional ``virtual`` extra (``pip install 'crampwatch[virtual]'``): the Pi's daemon
never needs it. This module imports it only when a virtual wearable is started; without it,
:func:`require_virtual` refuses with one line (:class:`ConfigError`, exit 78).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from firmware_bridge.ble_client import BleBackend, BleClient
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import ConfigError, InputError
from firmware_bridge.link_settings import WearableSettings
from firmware_bridge.protocol import DeviceInfo, Leg, Site
from firmware_bridge.simulation import NightPlan, plan_night, render_chunks
from firmware_bridge.source import LinkEvent

if TYPE_CHECKING:  # both import bumble, the optional 'virtual' extra (module docstring)
    from firmware_bridge.bumble_backend import BumbleCentral
    from firmware_bridge.virtual_wearable import PayloadSource, VirtualWearable, WearableFaults

log = logging.getLogger(__name__)

VIRTUAL_EXTRA = "pip install 'crampwatch[virtual]'"


def require_virtual(what: str = "the virtual wearable") -> None:
    """Import the virtual wearable and the bumble backend, or refuse with one line.

    ``what`` names the command in the message, e.g. ``"crampwatch demo"``. Raises
    :class:`ConfigError` (exit 78: the installation lacks a part) when bumble or one of its own
    dependencies cannot be imported. Later imports of the two modules are then cached.
    """
    try:
        import firmware_bridge.bumble_backend
        import firmware_bridge.virtual_wearable  # noqa: F401
    except ImportError as exc:
        log.debug("the virtual wearable cannot be imported: %r", exc)
        raise ConfigError(f"{what} needs the 'virtual' extra: {VIRTUAL_EXTRA}") from exc


# Quantisation of the virtual wearable: 0.5 µV/LSB gives ±16.4 mV in int16, above any calf EMG
# (few µV to 2–3 mV, physiology.md §3) and finer than the 2.6 µV LSB of a 24-h logger [Gan17];
# 2^-12 g/LSB is ±8 g, a common MEMS range [ADXL] that keeps heel strikes (≤ 2.4 g) unclipped.
EMG_UV_PER_LSB = 0.5
ACCEL_G_PER_LSB = 2.0**-12
DEMO_EMG_RATE_HZ = 1000.0  # the usual sEMG rate [SPC, Gan17]
DEMO_ACCEL_RATE_HZ = 50.0  # within the 25–100 Hz of wearables [OSD, pearl]; divides 1000


def _cheap_bumble_debug_formatting() -> None:
    """Make bumble's eager DEBUG-log formatting cheap while bumble's DEBUG logging is off.

    bumble 0.0.236 builds a DEBUG line for every HCI packet with an f-string (controller.py
    ``send_hci_packet``, host.py ``on_hci_packet``), so ``str(packet)`` and its ANSI colouring run
    even when the line is dropped: measured 40 % of a virtual night's CPU. Only the virtual air
    (demo, ``run --virtual``) uses bumble; with ``-v -v`` style DEBUG logging on, nothing changes.
    """
    if logging.getLogger("bumble").isEnabledFor(logging.DEBUG):
        return
    import bumble.controller
    import bumble.device
    import bumble.gatt_client
    import bumble.gatt_server
    import bumble.hci
    import bumble.host

    def plain(text: object, *_args: object, **_kwargs: object) -> str:
        return str(text)

    def name_only(packet: object) -> str:
        return type(packet).__name__

    for module in (
        bumble.controller,
        bumble.device,
        bumble.gatt_client,
        bumble.gatt_server,
        bumble.hci,
        bumble.host,
    ):
        if hasattr(module, "color"):
            setattr(module, "color", plain)  # noqa: B010  (not every bumble module declares it)
    for cls in (
        bumble.hci.HCI_Event,
        bumble.hci.HCI_Command_Complete_Event,
        bumble.hci.HCI_AclDataPacket,
    ):
        cls.__str__ = name_only  # type: ignore[method-assign]


def _site(label: str) -> Site:
    lowered = label.lower()
    if "shin" in lowered or "tibialis" in lowered:
        return Site.TIBIALIS_ANTERIOR
    if "lateral" in lowered:
        return Site.GASTROCNEMIUS_LATERAL
    return Site.GASTROCNEMIUS_MEDIAL


def device_info_for(plan: NightPlan) -> DeviceInfo:
    leg = str(plan.truth.get("subject", {}).get("leg", "left"))
    return DeviceInfo(
        emg_rate_hz=round(plan.emg_rate_hz),
        accel_rate_hz=round(plan.accel_rate_hz),
        emg_sites=tuple(_site(label) for label in plan.emg_labels),
        emg_uv_per_lsb=EMG_UV_PER_LSB,
        accel_g_per_lsb=ACCEL_G_PER_LSB,
        leg=Leg.RIGHT if leg == "right" else Leg.LEFT,
        firmware_version=(0, 1, 0),
    )


def parse_source(spec: str) -> int:
    """``sim:SEED`` → SEED; anything else is refused with one line."""
    kind, _, value = spec.partition(":")
    if kind != "sim" or not value.isdigit():
        raise InputError(f"--virtual: expected sim:SEED (e.g. sim:7), got {spec!r}")
    return int(value)


async def start_from_spec(
    spec: str,
    *,
    hours: float,
    profile: str,
    speed: float | None,
    faults: WearableFaults | None = None,
) -> VirtualAir:
    """``sim:SEED`` plays a simulated night, a path to an EDF/BDF file plays that recording."""
    if spec.startswith("sim:"):
        return await start_virtual(
            seed=parse_source(spec), hours=hours, profile=profile, speed=speed, faults=faults
        )
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"--virtual: expected sim:SEED or an EDF/BDF file, got {spec!r}")
    return await start_virtual_edf(path, speed=speed, faults=faults)


@dataclass
class VirtualAir:
    """A virtual air with the Pi's central and one wearable on it, playing some night."""

    info: DeviceInfo
    central: BumbleCentral
    wearable: VirtualWearable

    def client_factory(
        self, settings: WearableSettings, label: str
    ) -> Callable[[Callable[[LinkEvent], None]], BleClient]:
        backend = BleBackend(self.central.scanner_backend, self.central.client_backend)
        wearable_settings = dataclasses.replace(
            settings, address=self.wearable.address, name=self.wearable.name
        )

        def make(on_event: Callable[[LinkEvent], None]) -> BleClient:
            return BleClient(wearable_settings, backend=backend, label=label, on_event=on_event)

        return make


@dataclass
class VirtualSetup(VirtualAir):
    """A simulated night on the virtual wearable, with the simulator's truth."""

    plan: NightPlan

    @property
    def truth(self) -> dict[str, Any]:
        return self.plan.truth


@dataclass
class EdfPlayback(VirtualAir):
    """A recorded EDF/BDF night played by the virtual wearable."""

    path: Path
    duration_s: float


async def _air(
    info: DeviceInfo, payloads: PayloadSource, speed: float | None, faults: WearableFaults | None
) -> tuple[BumbleCentral, VirtualWearable]:
    require_virtual()
    from firmware_bridge.bumble_backend import BumbleCentral, new_link
    from firmware_bridge.virtual_wearable import VirtualWearable

    _cheap_bumble_debug_formatting()
    link = new_link()
    central = await BumbleCentral.create(link)
    wearable = VirtualWearable(link, info, payloads, speed=speed, faults=faults)
    await wearable.start()
    return central, wearable


async def start_virtual_edf(
    path: Path, *, speed: float | None, faults: WearableFaults | None = None
) -> EdfPlayback:
    """Play an EDF/BDF recording (EMG… and Accel X/Y/Z) through the virtual wearable.

    The wearable quantises with the EDF's own EMG resolution, so the daemon sees the recorded
    values again, exactly: where the file's grid sits half a step off zero (``crampwatch
    simulate`` writes ``(d + ½)·step``), it counts in half steps.
    """
    require_virtual()
    from firmware_bridge.virtual_wearable import ChunkPayloads, edf_chunks

    night = edf_chunks(str(path))
    emg_rate, accel_rate = night.emg_rate_hz, night.accel_rate_hz
    if (
        emg_rate != round(emg_rate)
        or accel_rate != round(accel_rate)
        or round(emg_rate) % round(accel_rate)
    ):
        raise InputError(
            f"{path}: the wearable protocol needs whole-Hz rates with the accelerometer rate "
            f"dividing the EMG rate; got {emg_rate:g} and {accel_rate:g} Hz",
            path=str(path),
        )
    reader = EdfReader(path)
    emg_signal = reader.signals[reader.signal_index(night.emg_labels[0])]
    resolution = (emg_signal.physical_max - emg_signal.physical_min) / (
        emg_signal.digital_max - emg_signal.digital_min
    )
    # where physical 0 falls on the file's digital grid: 0 (whole steps) or ½ (half steps)
    offset = (emg_signal.physical_min / resolution - emg_signal.digital_min) % 1.0
    if abs(offset - 0.5) < 1e-6:
        resolution /= 2.0
    unit = emg_signal.unit.strip().lower()
    per_uv = {"uv": 1.0, "µv": 1.0, "mv": 1e3, "v": 1e6}.get(unit, 1.0)
    info = DeviceInfo(
        emg_rate_hz=round(emg_rate),
        accel_rate_hz=round(accel_rate),
        emg_sites=tuple(_site(label) for label in night.emg_labels),
        # the wire carries it as float32 (PROTOCOL.md §3)
        emg_uv_per_lsb=float(np.float32(resolution * per_uv)),
        accel_g_per_lsb=ACCEL_G_PER_LSB,
        leg=Leg.LEFT,
        firmware_version=(0, 1, 0),
    )
    central, wearable = await _air(info, ChunkPayloads(night.chunks, info), speed, faults)
    log.info("virtual wearable: playing %s (%.0f s)", path, night.duration_s)
    return EdfPlayback(
        info=info, central=central, wearable=wearable, path=path, duration_s=night.duration_s
    )


async def start_virtual(
    *,
    seed: int,
    hours: float,
    profile: str,
    speed: float | None,
    faults: WearableFaults | None = None,
    leg: Leg | None = None,  # the leg its device info announces (default: the simulator's)
) -> VirtualSetup:
    """Plan the night, power on a central and the wearable on a fresh virtual air."""
    require_virtual()
    from firmware_bridge.virtual_wearable import ChunkPayloads

    try:
        plan = plan_night(
            seed=seed,
            hours=hours,
            profile=profile,
            emg_rate_hz=DEMO_EMG_RATE_HZ,
            accel_rate_hz=DEMO_ACCEL_RATE_HZ,
        )
    except ValueError as exc:
        raise InputError(f"cannot simulate that night: {exc}") from exc
    info = device_info_for(plan)
    if leg is not None:
        info = dataclasses.replace(info, leg=leg)
    central, wearable = await _air(
        info, ChunkPayloads(render_chunks(plan, chunk_s=10.0), info), speed, faults
    )
    log.info(
        "virtual wearable: seed %d, %s profile, %.2f h, %s",
        seed,
        profile,
        hours,
        "as fast as possible" if speed is None else f"{speed:g}× real time",
    )
    return VirtualSetup(info=info, central=central, wearable=wearable, plan=plan)


def parse_speed(text: str) -> float | None:
    """``max`` → None (as fast as the pipeline goes); else a positive factor."""
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or max, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"speed must be > 0, got {text}")
    return value
