"""A dependency-free systemd notify client (sd_notify(3) over ``NOTIFY_SOCKET``).

``READY=1`` once the daemon's loop runs; ``WATCHDOG=1`` only while the daemon is healthy (see
``Watchdog``); ``STOPPING=1`` on SIGTERM; ``STATUS=...`` on state changes. Outside systemd
(``NOTIFY_SOCKET`` unset) every call is a cheap no-op returning False.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages; never raises (a broken socket is logged once and counted)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        # sd_notify(3): a leading '@' means the Linux abstract namespace.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self.failures = 0
        self.dropped = 0
        self._socket: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, message: str) -> bool:
        if not self._address:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.connect(self._address)
                # Never block the event loop on a supervisor that does not read (a full
                # socket buffer would otherwise freeze detection); a dropped ping is counted.
                self._socket.setblocking(False)
            self._socket.sendall(message.encode())
        except BlockingIOError:
            self.dropped += 1
            return False
        except OSError as exc:
            self.failures += 1
            if self.failures == 1:
                log.warning("cannot notify systemd at %s: %s", self._address.lstrip("\0"), exc)
            self.close()
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds (as sd_watchdog_enabled(3) advises), or None.

    None when systemd set no watchdog, or when ``WATCHDOG_PID`` names another process.
    """
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2e6


class Watchdog:
    """Pets systemd's watchdog only while every health check passes.

    Each check is a ``() -> str | None`` returning None when healthy or a reason. A stalled
    pipeline makes a check fail, the pings stop, and systemd kills and restarts the service
    (``Restart=on-failure``). A wearable out of range or a dead broker is not unhealthy.
    """

    def __init__(self, notifier: Notifier, checks: Mapping[str, Callable[[], str | None]]) -> None:
        self._notifier = notifier
        self._checks = dict(checks)
        self.pings = 0
        self.withheld = 0
        self.last_failure: str | None = None

    def tick(self) -> bool:
        """Run the checks; ping if all pass. Returns True when a ping was sent (or would be)."""
        for name, check in self._checks.items():
            reason = check()
            if reason is not None:
                if self.last_failure != f"{name}: {reason}":
                    log.error("watchdog withheld: %s: %s", name, reason)
                self.last_failure = f"{name}: {reason}"
                self.withheld += 1
                return False
        if self.last_failure is not None:
            log.info("watchdog healthy again")
            self.last_failure = None
        self.pings += 1
        self._notifier.notify("WATCHDOG=1")
        return True
