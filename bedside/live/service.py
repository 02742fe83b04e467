"""Start and stop one night of the daemon: shared by ``crampwatch run`` and ``crampwatch demo``.

Owns the process edges the daemon itself does not: signals, the MQTT publisher's lifetime, the
prompt engine's, and — with a virtual wearable — ending when the simulated night has been played.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bedside.config.settings import Settings, package_version, pid_file
from bedside.live.daemon import Daemon, NightReport, WearableSpec, open_outbox
from bedside.live.mqtt import MqttPublisher
from bedside.live.sdnotify import Notifier
from bedside.live.sink import RecordCallback
from bedside.live.virtual import VirtualAir
from bedside.live.worker import LegWorker
from bedside.prompt.engine import PromptEngine, build_engine
from bedside.stream.night import NightSummary
from firmware_bridge.ble_client import BleClient
from firmware_bridge.link_settings import WearableSettings
from firmware_bridge.protocol import leg_name
from firmware_bridge.source import LinkEvent

log = logging.getLogger(__name__)

SETTLE_S = 0.5  # the played night is over when nothing more arrived for this long
PROMPT_DRAIN_S = 5.0  # at most this long for queued prompt lines at shutdown


@dataclass
class NightResult:
    summary: NightSummary
    link_failed: bool
    daemon: Daemon
    reload: bool = False


def wearable_specs(settings: Settings, virtual: Sequence[VirtualAir] = ()) -> list[WearableSpec]:
    """The wearables to keep connected: the virtual ones if any (one is labelled "left", as
    always; several are each named by the leg their device info announces), else every
    configured one (``Settings.legs()``)."""
    if virtual:
        specs = []
        for n, air in enumerate(virtual):
            label = "left" if len(virtual) == 1 else leg_name(air.info, f"wearable{n + 1}")
            specs.append(WearableSpec(
                label, air.client_factory(settings.wearable, label), air.wearable.address,
                mqtt_leg=label if len(virtual) > 1 else "",
            ))
        return specs
    return [
        WearableSpec(
            item.leg or "wearable",
            _real_factory(item.link, item.leg or "wearable"),
            item.link.address,
            mqtt_leg=item.leg,
        )
        for item in settings.legs()
    ]


def _real_factory(
    settings: WearableSettings, label: str
) -> Callable[[Callable[[LinkEvent], None]], BleClient]:
    def make(on_event: Callable[[LinkEvent], None]) -> BleClient:
        return BleClient(settings, label=label, on_event=on_event)

    return make


def _silence(prompt: PromptEngine | None, scope: Literal["cramp", "night"]) -> None:
    if prompt is None:
        log.info("silence (%s) asked, but prompts are off", scope)
        return
    prompt.silence(scope)


async def _night_played(daemon: Daemon, virtual: Sequence[VirtualAir]) -> None:
    """Returns once every virtual wearable has sent its whole night and its worker consumed it
    (``daemon.links[i]`` is ``virtual[i]``'s, as ``wearable_specs`` orders them)."""
    for air in virtual:
        await air.wearable.finished.wait()
    quiet_since: float | None = None
    loop = asyncio.get_running_loop()

    def consumed(air: VirtualAir, link_client: BleClient, leg_worker: LegWorker) -> bool:
        link, worker = link_client.statistics(), leg_worker.statistics()
        sent = air.wearable.statistics().sent
        return link.packets + link.queue_drops >= sent and worker.packets >= link.packets

    while True:
        drained = all(
            consumed(air, link, worker)
            for air, link, worker in zip(virtual, daemon.links, daemon.workers, strict=True)
        )
        if drained:
            quiet_since = quiet_since if quiet_since is not None else loop.time()
            if loop.time() - quiet_since >= SETTLE_S:
                return
        else:
            quiet_since = None
        await asyncio.sleep(0.1)


async def run_night(
    settings: Settings,
    *,
    state_dir: Path,
    virtual: VirtualAir | Sequence[VirtualAir] | None = None,
    printer: RecordCallback | None = None,
    close_night: NightReport | None = None,
    status: Callable[[str], None] | None = None,
    status_every_s: float = 1.0,
    wav_dir: Path | None = None,
    with_prompt: bool = True,
    reload_check: Callable[[], bool] | None = None,
) -> NightResult:
    """Run until SIGTERM/SIGINT (or, with ``virtual``, until its night has been played).

    SIGHUP calls ``reload_check``; when it approves, the night ends cleanly with
    ``NightResult.reload`` set, for the caller to re-execute itself with the new configuration
    (the event history carries tonight's count over). ``virtual``: one virtual wearable or
    several (one per leg) instead of the configured ones.
    """
    log.info("crampwatch %s starting (pid %d)", package_version(), os.getpid())
    airs: list[VirtualAir] = (
        [] if virtual is None else [virtual] if isinstance(virtual, VirtualAir) else list(virtual)
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reload_requested = False

    def on_sighup() -> None:
        nonlocal reload_requested
        if reload_check is None:
            log.warning("SIGHUP ignored: nothing to reload here")
        elif reload_check():
            log.info("SIGHUP: configuration is valid; restarting cleanly to apply it")
            reload_requested = True
            stop.set()
        # else reload_check logged why; keep running on the old configuration

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    # `crampwatch prompt silence [--night]` reaches the running daemon by these two signals.
    silence_signals: dict[signal.Signals, Literal["cramp", "night"]] = {
        signal.SIGUSR1: "cramp",
        signal.SIGUSR2: "night",
    }
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    prompt: PromptEngine | None = None
    publisher: MqttPublisher | None = None
    outbox = None
    if with_prompt:
        prompt_settings = settings.prompt
        if not prompt_settings.cache_dir:
            prompt_settings = dataclasses.replace(
                prompt_settings, cache_dir=str(state_dir / "prompt-cache")
            )
        prompt = await build_engine(prompt_settings, wav_dir=wav_dir)
    daemon_ref: list[Daemon] = []
    specs = wearable_specs(settings, airs)
    if settings.mqtt.enabled:
        outbox = open_outbox(settings, state_dir)
        publisher = MqttPublisher(
            settings.mqtt, outbox, on_command=lambda c: daemon_ref[0].on_command(c), loop=loop,
            legs=tuple(spec.mqtt_leg for spec in specs),
            wearable_addresses=tuple(spec.address for spec in specs),
        )
    daemon = Daemon(
        settings,
        wearables=specs,
        state_dir=state_dir,
        publisher=publisher,
        prompt=prompt,
        printer=printer,
        close_night=close_night,
        status=status,
        status_every_s=status_every_s,
        notifier=Notifier(),
    )
    daemon_ref.append(daemon)
    for sig, scope in silence_signals.items():
        loop.add_signal_handler(sig, functools.partial(_silence, prompt, scope))
    pid_path = pid_file(state_dir)
    try:
        pid_path.write_text(f"{os.getpid()}\n")
    except OSError as exc:  # a full disk must not keep the detector from starting
        log.warning("cannot write %s (%s): `crampwatch prompt silence` will not find the "
                    "daemon; detection goes on", pid_path, exc.strerror)
    if publisher is not None:
        publisher.start()
    ender: asyncio.Task[None] | None = None
    if airs:

        async def end_when_played() -> None:
            await _night_played(daemon, airs)
            stop.set()

        ender = asyncio.create_task(end_when_played(), name="night-played")
    try:
        summary = await daemon.run(stop)
    finally:
        if ender is not None:
            ender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ender
        if publisher is not None:
            publisher.publish_summary(daemon.night_json(daemon.summary))
            await publisher.stop()
        if outbox is not None:
            outbox.close()
        if prompt is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PROMPT_DRAIN_S):
                    await prompt.drain()  # let the closing line of a cramp be said
            await prompt.aclose()
        for air in airs:
            await air.wearable.stop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, *silence_signals):
            loop.remove_signal_handler(sig)
        with contextlib.suppress(FileNotFoundError):
            pid_path.unlink()
    return NightResult(
        summary=summary,
        link_failed=daemon.link_failure is not None,
        daemon=daemon,
        reload=reload_requested,
    )
