"""The one error root of crampwatch.

It lives here because ``firmware_bridge`` is the lowest room that raises our own errors;
``bedside`` imports it, ``detector`` never does (it raises only ``ValueError``/``TypeError``).

::

    CrampwatchError
    ├── ConfigError(path, section, key)  -> exit 78 (EX_CONFIG), systemd does not restart
    ├── InputError(path)                 -> bad input file (EDF, truth, events): one line, exit 65
    ├── LinkError                        -> reconnect with capped backoff
    │   ├── DeviceNotFoundError(address)
    │   └── UnsupportedDeviceError(reason)  -> refused at connect (link event
    │                                          "unsupported_device"), never streamed; retried
    │                                          later (its firmware may be changed)
    ├── RecordingError(path, offset)     -> replay stops with one line
    ├── PublishError(rc)                 -> event stays in the outbox
    └── PromptError(returncode)          -> logged; detection goes on
"""

from __future__ import annotations

EX_DATAERR = 65  # sysexits.h: input data was incorrect
EX_CONFIG = 78  # sysexits.h: configuration error; systemd unit sets RestartPreventExitStatus=78


class CrampwatchError(Exception):
    """Root of every error crampwatch raises on purpose."""

    exit_code: int = 1


class ConfigError(CrampwatchError):
    """A configuration file or value is wrong; the message names file, section and key."""

    exit_code = EX_CONFIG

    def __init__(self, message: str, *, path: str = "", section: str = "", key: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.section = section
        self.key = key


class InputError(CrampwatchError):
    """An input file (EDF/BDF, truth JSON, events JSONL, session) cannot be used."""

    exit_code = EX_DATAERR

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class LinkError(CrampwatchError):
    """The BLE link to a wearable failed; the caller reconnects with capped backoff."""


class DeviceNotFoundError(LinkError):
    """No wearable with this address or name was seen while scanning."""

    def __init__(self, message: str, *, address: str = "") -> None:
        super().__init__(message)
        self.address = address


class UnsupportedDeviceError(LinkError):
    """A wearable speaks the protocol but announces rates crampwatch cannot use.

    A LinkError, not an InputError: it comes from the device at connect time, and the BLE
    client backs off and tries again, as for any failed connect cycle. ``reason`` names the
    field and the supported range. Offline tools that meet it in a recording map it to their
    bad-input path (exit 65).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"unsupported device: {reason}")
        self.reason = reason


class RecordingError(CrampwatchError):
    """A raw session recording is damaged beyond the last complete record."""

    exit_code = EX_DATAERR

    def __init__(self, message: str, *, path: str = "", offset: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset


class PublishError(CrampwatchError):
    """MQTT publish failed; the event stays in the outbox."""

    def __init__(self, message: str, *, rc: int = 0) -> None:
        super().__init__(message)
        self.rc = rc


class PromptError(CrampwatchError):
    """The prompt player failed; logged and counted, detection goes on."""

    def __init__(self, message: str, *, returncode: int | None = None) -> None:
        super().__init__(message)
        self.returncode = returncode
