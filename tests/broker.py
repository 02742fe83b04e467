"""A REAL mosquitto for tests: free loopback port, generated config, plain or TLS + password.

``Broker(workdir)`` writes ``mosquitto.conf`` into ``workdir`` and runs ``/usr/sbin/mosquitto``
on ``127.0.0.1:<free port>``; ``stop()``/``start()`` keep the port, the persistence file (retained
messages and persistent sessions survive, as on a real Pi) and the log. ``make_tls_files`` makes
a throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate with the
``openssl`` CLI. A missing binary fails the test naming the Debian package; it never skips.

``Subscriber`` is a small paho client that records what arrives (topic, payload, retain, QoS).
The system broker on 1883 is never used.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = "/usr/sbin/mosquitto"


def _require(binary: str, package: str) -> str:
    path = shutil.which(binary) or (binary if Path(binary).is_file() else None)
    if path is None:
        pytest.fail(
            f"{binary} not found: install the Debian package '{package}' "
            f"(apt-get install {package})"
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA, a server certificate (SAN 127.0.0.1, localhost) and a client certificate (P-256)."""
    openssl = _require("openssl", "openssl")
    directory.mkdir(parents=True, exist_ok=True)
    key_args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        *key_args,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=crampwatch test CA",
    )
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn in (("server", "localhost"), ("client", "crampwatch-test-client")):
        run("req", *key_args, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
        )
    return TlsFiles(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )


class Broker:
    """One mosquitto process on 127.0.0.1; ``users`` turns anonymous access off."""

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        *,
        tls: TlsFiles | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self._binary = _require(MOSQUITTO, "mosquitto")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.log_path = workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'false' if users else 'true'}",
            "persistence true",
            f"persistence_location {workdir}/",
            "log_dest stderr",
            "log_type all",
            "connection_messages true",
            f"user {getpass.getuser()}",  # as root, stay root instead of switching to 'mosquitto'
        ]
        if users:
            passwd = _require("mosquitto_passwd", "mosquitto")
            password_file = workdir / "passwd"
            password_file.touch()
            for user, password in users.items():
                subprocess.run(
                    [passwd, "-b", str(password_file), user, password],
                    check=True,
                    capture_output=True,
                )
            lines.append(f"password_file {password_file}")
        if tls:
            lines += [
                f"cafile {tls.ca}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
                "require_certificate true",
            ]
        self.config_path = workdir / "mosquitto.conf"
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, timeout_s: float = 5.0) -> None:
        if self._proc is not None:
            raise RuntimeError("broker already running")
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [self._binary, "-c", str(self.config_path)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                pytest.fail(f"mosquitto exited at start:\n{self.log_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        pytest.fail(f"mosquitto did not listen on {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """SIGTERM (mosquitto saves its persistence file) and wait."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def connection_attempts(self) -> int:
        """How many clients the broker saw connecting (its 'New connection from' lines)."""
        return self.log_text().count("New connection from")


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float  # time.monotonic() on arrival

    @property
    def text(self) -> str:
        return self.payload.decode()


class Subscriber:
    """A paho client recording every message on ``topics`` (blocking; for tests only)."""

    def __init__(
        self,
        broker: Broker,
        topics: Sequence[str],
        *,
        client_id: str = "",
        clean_session: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._topics = list(topics)
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
        )
        if username is not None:
            client.username_pw_set(username, password)
        if broker.tls is not None:
            client.tls_set(
                ca_certs=str(broker.tls.ca),
                certfile=str(broker.tls.client_cert),
                keyfile=str(broker.tls.client_key),
            )
        client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.connect(broker.host, broker.port, keepalive=30)
        client.loop_start()
        self._client = client
        if not self._subscribed.wait(5):
            self.close()
            raise TimeoutError("subscriber did not get its SUBACK within 5 s")

    def _on_connect(self, client: paho.Client, _u: object, _f: object, rc: Any, _p: object) -> None:
        if not rc.is_failure:
            client.subscribe([(t, 1) for t in self._topics])

    def _on_subscribe(self, *_args: object) -> None:
        self._subscribed.set()

    def _on_message(self, _c: paho.Client, _u: object, msg: Any) -> None:
        with self._cond:
            self.messages.append(
                Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, time.monotonic())
            )
            self._cond.notify_all()

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout_s: float = 5.0
    ) -> list[Received]:
        """Block until ``predicate(messages)`` holds; AssertionError with what arrived if not."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n".join(
                        f"  {m.topic} {m.payload[:120]!r} retain={m.retain}"
                        for m in self.messages[-30:]
                    )
                    raise AssertionError(f"timed out after {timeout_s} s; last messages:\n{seen}")
                self._cond.wait(remaining)
            return list(self.messages)

    async def until(
        self, predicate: Callable[[list[Received]], bool], timeout_s: float = 5.0
    ) -> list[Received]:
        """``wait_for`` from a coroutine, without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout_s)

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
