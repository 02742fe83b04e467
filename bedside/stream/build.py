"""The one place that builds a detector: from settings, a calibration and the stream's shape.

``detector_factory(settings)`` binds the detector settings (and a calibration) to the detector
class (default :class:`detector.pipeline.Pipeline`, or any ``MODULE:CALLABLE`` such as a
benchmark baseline) and returns a :class:`DetectorFactory`; ``for_device(factory, info)`` builds
one for a wearable from its device info (rates, channels, site labels). Every path uses these:
the live worker, ``replay`` (EDF and session), ``export``, ``tune``, ``report``, ``label`` and
``calibrate``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from detector.calibration import Calibration
from detector.settings import DetectorSettings
from detector.types import CrampDetector
from firmware_bridge.errors import ConfigError
from firmware_bridge.protocol import DeviceInfo, emg_labels

DEFAULT_DETECTOR = "detector.pipeline:Pipeline"


class DetectorFactory(Protocol):
    """Builds a detector for one stream: ``detector.pipeline.Pipeline`` fits (settings bound)."""

    def __call__(
        self,
        *,
        emg_rate_hz: float,
        accel_rate_hz: float,
        n_emg_channels: int,
        emg_labels: Sequence[str],
    ) -> CrampDetector: ...


def detector_factory(
    settings: DetectorSettings,
    calibration: Calibration | None = None,
    spec: str = DEFAULT_DETECTOR,
) -> DetectorFactory:
    """Resolve ``spec`` (``module:callable``) and bind the detector settings (and
    ``calibration``, which the callable must then take as a keyword) to it. A spec that does not
    resolve, or a calibration the detector cannot take, raises :class:`ConfigError`."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--detector {spec!r}: expected MODULE:CALLABLE")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"--detector {spec!r}: cannot import {exc.name}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"--detector {spec!r}: {module_name} has no callable {attr!r}")
    built: Callable[..., CrampDetector] = factory
    try:
        params = inspect.signature(built).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        params = {}  # type: ignore[assignment]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    takes_labels = "emg_labels" in params or takes_any
    if calibration is not None and not ("calibration" in params or takes_any):
        raise ConfigError(f"--calibration: the detector {spec!r} does not take a calibration")

    def make(
        *,
        emg_rate_hz: float,
        accel_rate_hz: float,
        n_emg_channels: int,
        emg_labels: Sequence[str],
    ) -> CrampDetector:
        # emg_labels let the pipeline tell a shin channel from calf ones; older detectors
        # (e.g. benchmark baselines) do not take them.
        extra: dict[str, Any] = {"emg_labels": tuple(emg_labels)} if takes_labels else {}
        if calibration is not None:
            extra["calibration"] = calibration
        return built(
            settings,
            emg_rate_hz=emg_rate_hz,
            accel_rate_hz=accel_rate_hz,
            n_emg_channels=n_emg_channels,
            **extra,
        )

    return make


def for_device(factory: DetectorFactory, info: DeviceInfo) -> CrampDetector:
    """A detector for the wearable ``info`` describes (rates, channel count, site labels);
    ``ValueError`` if the detector refuses that stream."""
    return factory(
        emg_rate_hz=float(info.emg_rate_hz),
        accel_rate_hz=float(info.accel_rate_hz),
        n_emg_channels=info.n_emg_channels,
        emg_labels=emg_labels(info),
    )
