"""The crampwatch GATT protocol: UUIDs, wire constants and the device-info struct.

Everything here is pure (no I/O, no clock) and mirrors ``firmware_bridge/PROTOCOL.md``; the
section numbers in the comments (``§n``) point into that document. The virtual wearable and the
BLE client both take their UUIDs and layouts from this module, and the golden hex vectors in
PROTOCOL.md (checked by ``tests/firmware_bridge/test_codec_vectors.py``) make sure a shared mistake
cannot hide.

Never imports ``bedside``, ``detector`` or ``bleak``.
"""

from __future__ import annotations

import binascii
import enum
import struct
from dataclasses import dataclass

from firmware_bridge.errors import UnsupportedDeviceError

# §1 GATT layout. One random (version 4) 128-bit base, d9a2xxxx-f020-4d75-a4b5-7a8f69780e88,
# with the 16-bit role in bytes 2-3 as Nordic's UART service does (6e40xxxx-b5a3-...).
SERVICE_UUID = "d9a20001-f020-4d75-a4b5-7a8f69780e88"
DATA_CHAR_UUID = "d9a20002-f020-4d75-a4b5-7a8f69780e88"  # §2 notify: sample notifications
CONTROL_CHAR_UUID = "d9a20003-f020-4d75-a4b5-7a8f69780e88"  # §4 write with response
DEVICE_INFO_CHAR_UUID = "d9a20004-f020-4d75-a4b5-7a8f69780e88"  # §3 read-only
# Bluetooth SIG Assigned Numbers §3.4/§3.8: Battery Service 0x180F, Battery Level 0x2A19 (u8 %).
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_CHAR_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

PROTOCOL_VERSION = 1  # §2.1 byte 0 of every notification and of the device info

# §2.1 notification header, little-endian: version u8, status u8, seq u16, first EMG index u32,
# EMG samples per channel u8, accelerometer samples u8.
HEADER = struct.Struct("<BBHIBB")
HEADER_SIZE = HEADER.size  # 10 bytes
CRC_SIZE = 2  # §2.4 CRC-16/IBM-3740 (a.k.a. CCITT-FALSE), little-endian, after the samples
OVERHEAD_SIZE = HEADER_SIZE + CRC_SIZE  # 12 bytes
EMG_SAMPLE_SIZE = 2  # §2.2 int16 little-endian per channel
ACCEL_SAMPLE_SIZE = 6  # §2.3 int16 X, Y, Z little-endian
MAX_EMG_SAMPLES = 255  # §2.1 the count is a u8
MAX_ACCEL_SAMPLES = 255  # §2.1 the count is a u8
SEQ_MODULO = 1 << 16  # §2.1 seq wraps 65535 -> 0
INDEX_MODULO = 1 << 32  # §2.1 first EMG index wraps after 2**32 samples (49.7 days at 1 kHz)

# §2.1 status byte: bits 0..5 lead-off of EMG channel 0..5, bit 6 reference electrode, bit 7
# reserved (sent as 0, ignored by readers).
MAX_EMG_CHANNELS = 6
LEAD_OFF_REFERENCE = 1 << 6
LEAD_OFF_MASK = 0x7F

MIN_ATT_MTU = 23  # Core spec Vol 3 Part F §3.2.8: ATT_MTU is at least 23
ATT_NOTIFY_OVERHEAD = 3  # Core spec Vol 3 Part F §3.4.7.1: opcode u8 + handle u16


def max_payload_size(att_mtu: int) -> int:
    """Largest notification value (bytes) that fits ATT_MTU ``att_mtu``: ``att_mtu - 3``."""
    if att_mtu < MIN_ATT_MTU:
        raise ValueError(f"att_mtu must be >= {MIN_ATT_MTU}, got {att_mtu}")
    return att_mtu - ATT_NOTIFY_OVERHEAD


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/IBM-3740 ("CCITT-FALSE"): poly 0x1021, init 0xFFFF, no reflection, xorout 0.

    Greg Cook's CRC catalogue lists it with check value 0x29B1 for ``b"123456789"``; the same
    function is Nordic nRF5 SDK ``crc16_compute(p, n, NULL)`` and Zephyr ``crc16_itu_t(0xFFFF, p,
    n)``. ``binascii.crc_hqx`` is the same polynomial, unreflected, with a caller-given init.
    """
    return binascii.crc_hqx(data, 0xFFFF)


class Leg(enum.IntEnum):
    """§3 byte 14: which leg wears the sensor."""

    UNKNOWN = 0
    LEFT = 1
    RIGHT = 2


class Site(enum.IntEnum):
    """§3 site codes, one byte per EMG channel: the muscle under the electrode pair."""

    UNKNOWN = 0
    GASTROCNEMIUS_MEDIAL = 1
    GASTROCNEMIUS_LATERAL = 2
    SOLEUS = 3
    TIBIALIS_ANTERIOR = 4
    HAMSTRINGS = 5
    FOOT_INTRINSIC = 6


# §3 device info, little-endian: version u8, channels u8, EMG rate u16, accel rate u16,
# µV/LSB f32, g/LSB f32, leg u8, firmware major/minor/patch u8, block samples u8, max blocks u8,
# then one site byte per channel.
DEVICE_INFO = struct.Struct("<BBHHffBBBBBB")
DEVICE_INFO_FIXED_SIZE = DEVICE_INFO.size  # 20 bytes


# What crampwatch can use, a subset of what the protocol allows (§3: any u16 rates). EMG: the
# documented detector range (README "Detector": 500-4000 Hz; detector/rates.py). Accelerometer:
# 4 samples per 0.5-s feature frame (8 Hz) up to 3200 Hz, the fastest MEMS rate (ADXL345
# datasheet [ADXL], shared/notes/physiology.md). ``firmware_bridge`` cannot import ``detector``;
# tests/firmware_bridge/test_device_support.py keeps the two in step.
SUPPORTED_EMG_RATE_HZ = (500, 4000)
SUPPORTED_ACCEL_RATE_HZ = (8, 3200)


class InvalidDeviceInfoError(ValueError):
    """The device-info characteristic cannot be used (the BLE client wraps it as LinkError)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """What the wearable says about itself (§3), needed to decode its notifications.

    ``accel_rate_hz`` must divide ``emg_rate_hz``: accelerometer sample ``k`` belongs to EMG
    sample index ``k * emg_rate_hz // accel_rate_hz`` (§2.3).
    """

    emg_rate_hz: int
    accel_rate_hz: int
    emg_sites: tuple[Site, ...]
    emg_uv_per_lsb: float
    accel_g_per_lsb: float
    leg: Leg = Leg.UNKNOWN
    firmware_version: tuple[int, int, int] = (0, 0, 0)
    block_emg_samples: int = 10  # samples per channel in one sampling block (10 ms at 1 kHz)
    max_blocks_per_notification: int = 5
    protocol_version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        problems = _device_info_problems(self)
        if problems:
            raise InvalidDeviceInfoError("device info: " + "; ".join(problems))

    def check_supported(self) -> None:
        """Raise UnsupportedDeviceError naming the first field outside what we can use.

        A valid ``DeviceInfo`` is one the protocol allows; a supported one also has rates in
        ``SUPPORTED_EMG_RATE_HZ`` and ``SUPPORTED_ACCEL_RATE_HZ`` (inclusive).
        """
        for name, value, (low, high) in (
            ("emg_rate_hz", self.emg_rate_hz, SUPPORTED_EMG_RATE_HZ),
            ("accel_rate_hz", self.accel_rate_hz, SUPPORTED_ACCEL_RATE_HZ),
        ):
            if not low <= value <= high:
                raise UnsupportedDeviceError(
                    f"{name} {value} Hz is outside the supported range {low}-{high} Hz"
                )

    @property
    def n_emg_channels(self) -> int:
        """Number of EMG channels (1..6)."""
        return len(self.emg_sites)

    @property
    def accel_ratio(self) -> int:
        """EMG samples per accelerometer sample, ``emg_rate_hz // accel_rate_hz``."""
        return self.emg_rate_hz // self.accel_rate_hz

    def to_bytes(self) -> bytes:
        """The §3 characteristic value: 20 bytes + one site byte per channel."""
        major, minor, patch = self.firmware_version
        fixed = DEVICE_INFO.pack(
            self.protocol_version,
            self.n_emg_channels,
            self.emg_rate_hz,
            self.accel_rate_hz,
            self.emg_uv_per_lsb,
            self.accel_g_per_lsb,
            int(self.leg),
            major,
            minor,
            patch,
            self.block_emg_samples,
            self.max_blocks_per_notification,
        )
        return fixed + bytes(int(s) for s in self.emg_sites)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> DeviceInfo:
        """Parse the §3 value; bytes past the sites are ignored (later minor additions).

        Raises InvalidDeviceInfoError (a ValueError) on a short value, another protocol version
        or impossible numbers.
        """
        raw = bytes(data)
        if len(raw) < DEVICE_INFO_FIXED_SIZE:
            raise InvalidDeviceInfoError(
                f"device info: {len(raw)} bytes, need at least {DEVICE_INFO_FIXED_SIZE}"
            )
        fields = DEVICE_INFO.unpack_from(raw)
        version, n_ch, emg_hz, acc_hz, uv_lsb, g_lsb, leg, major, minor, patch = fields[:10]
        block, max_blocks = fields[10:]
        if version != PROTOCOL_VERSION:
            raise InvalidDeviceInfoError(
                f"device info: protocol version {version}, this reader speaks {PROTOCOL_VERSION}"
            )
        if len(raw) < DEVICE_INFO_FIXED_SIZE + n_ch:
            raise InvalidDeviceInfoError(
                f"device info: {len(raw)} bytes, {n_ch} channels need "
                f"{DEVICE_INFO_FIXED_SIZE + n_ch}"
            )
        site_codes = raw[DEVICE_INFO_FIXED_SIZE : DEVICE_INFO_FIXED_SIZE + n_ch]
        return cls(
            emg_rate_hz=emg_hz,
            accel_rate_hz=acc_hz,
            emg_sites=tuple(
                Site(c) if c in Site._value2member_map_ else Site.UNKNOWN for c in site_codes
            ),
            emg_uv_per_lsb=uv_lsb,
            accel_g_per_lsb=g_lsb,
            leg=Leg(leg) if leg in Leg._value2member_map_ else Leg.UNKNOWN,
            firmware_version=(major, minor, patch),
            block_emg_samples=block,
            max_blocks_per_notification=max_blocks,
            protocol_version=version,
        )


def _device_info_problems(info: DeviceInfo) -> list[str]:
    problems: list[str] = []
    if info.protocol_version != PROTOCOL_VERSION:
        problems.append(f"protocol_version must be {PROTOCOL_VERSION}")
    if not 1 <= len(info.emg_sites) <= MAX_EMG_CHANNELS:
        problems.append(f"1..{MAX_EMG_CHANNELS} EMG channels, got {len(info.emg_sites)}")
    if not 1 <= info.emg_rate_hz <= 0xFFFF:
        problems.append(f"emg_rate_hz must be 1..65535, got {info.emg_rate_hz}")
    if not 1 <= info.accel_rate_hz <= info.emg_rate_hz or (
        info.emg_rate_hz % max(info.accel_rate_hz, 1)
    ):
        problems.append(
            f"accel_rate_hz ({info.accel_rate_hz}) must divide emg_rate_hz ({info.emg_rate_hz})"
        )
    for name, value in (
        ("emg_uv_per_lsb", info.emg_uv_per_lsb),
        ("accel_g_per_lsb", info.accel_g_per_lsb),
    ):
        # f32 on the wire: must be finite, positive and survive the round trip unchanged.
        if (
            not (value > 0.0 and value < 3.0e38)
            or struct.unpack("<f", struct.pack("<f", value))[0] != value
        ):
            problems.append(f"{name} must be a positive float32, got {value!r}")
    if not 1 <= info.block_emg_samples <= MAX_EMG_SAMPLES:
        problems.append(f"block_emg_samples must be 1..255, got {info.block_emg_samples}")
    if not 1 <= info.max_blocks_per_notification <= 255:
        problems.append(
            f"max_blocks_per_notification must be 1..255, got {info.max_blocks_per_notification}"
        )
    if any(not 0 <= v <= 255 for v in info.firmware_version) or len(info.firmware_version) != 3:
        problems.append(f"firmware_version must be 3 bytes, got {info.firmware_version}")
    return problems


def accel_span(info: DeviceInfo, first_emg_index: int, n_emg: int) -> tuple[int, int]:
    """Accelerometer samples that belong to EMG samples ``[first_emg_index, +n_emg)`` (§2.3).

    Returns ``(first_accel_index, m)``: the samples ``k`` with ``k * R`` in the EMG range, where
    ``R = info.accel_ratio``. Uses the index as sent on the wire (u32).
    """
    if first_emg_index < 0 or n_emg < 0:
        raise ValueError(
            f"need first_emg_index >= 0 and n_emg >= 0, got {first_emg_index}, {n_emg}"
        )
    ratio = info.accel_ratio
    first = -(-first_emg_index // ratio)
    end = -(-(first_emg_index + n_emg) // ratio)
    return first, end - first


def notification_size(n_channels: int, n_emg: int, n_accel: int) -> int:
    """Bytes of one notification: 12 + 2·n_channels·n_emg + 6·n_accel (§2)."""
    return OVERHEAD_SIZE + EMG_SAMPLE_SIZE * n_channels * n_emg + ACCEL_SAMPLE_SIZE * n_accel


def max_emg_samples(info: DeviceInfo, first_emg_index: int, payload_size: int) -> int:
    """Most EMG samples per channel starting at ``first_emg_index`` that fit ``payload_size``.

    For the wearable's batching (§5): at most ``block_emg_samples * max_blocks_per_notification``
    and 255; 0 if not even one sample (with its accelerometer sample, if due) fits.
    """
    limit = min(MAX_EMG_SAMPLES, info.block_emg_samples * info.max_blocks_per_notification)
    best = 0
    for n in range(1, limit + 1):
        _, m = accel_span(info, first_emg_index % INDEX_MODULO, n)
        if notification_size(info.n_emg_channels, n, m) > payload_size:
            break
        best = n
    return best


# §4 control characteristic opcodes (write with response).
class Opcode(enum.IntEnum):
    """First byte of a control write (§4)."""

    START = 0x01  # no arguments: start notifications from the current index
    STOP = 0x02  # no arguments
    SET_RATES = 0x03  # u16 emg_rate_hz, u16 accel_rate_hz (only while stopped)
    SET_BATCH = 0x04  # u8 blocks per notification (1..max_blocks_per_notification)


# §4 Application error codes the wearable answers a bad write with (Core spec Vol 3 Part F
# §3.4.1.1: 0x80-0x9F are application errors).
ATT_ERROR_UNKNOWN_OPCODE = 0x80
ATT_ERROR_BAD_ARGUMENT = 0x81
ATT_ERROR_BUSY = 0x82  # SET_RATES while streaming

_RATES = struct.Struct("<BHH")


@dataclass(frozen=True, slots=True)
class ControlCommand:
    """One decoded control write; ``rates`` for SET_RATES, ``blocks`` for SET_BATCH."""

    opcode: Opcode
    emg_rate_hz: int = 0
    accel_rate_hz: int = 0
    blocks: int = 0


def control_start() -> bytes:
    """§4 START: ``01``."""
    return bytes([Opcode.START])


def control_stop() -> bytes:
    """§4 STOP: ``02``."""
    return bytes([Opcode.STOP])


def control_set_rates(emg_rate_hz: int, accel_rate_hz: int) -> bytes:
    """§4 SET_RATES: ``03`` + u16 EMG rate + u16 accel rate (Hz, little-endian)."""
    if not (1 <= accel_rate_hz <= emg_rate_hz <= 0xFFFF) or emg_rate_hz % accel_rate_hz:
        raise ValueError(
            f"rates must satisfy 1 <= accel <= emg <= 65535 and accel | emg, "
            f"got {emg_rate_hz}, {accel_rate_hz}"
        )
    return _RATES.pack(Opcode.SET_RATES, emg_rate_hz, accel_rate_hz)


def control_set_batch(blocks: int) -> bytes:
    """§4 SET_BATCH: ``04`` + u8 blocks per notification."""
    if not 1 <= blocks <= 255:
        raise ValueError(f"blocks must be 1..255, got {blocks}")
    return bytes([Opcode.SET_BATCH, blocks])


def parse_control(data: bytes | bytearray | memoryview) -> ControlCommand | None:
    """Decode a control write (wearable side); ``None`` if it is malformed (answer 0x80/0x81)."""
    raw = bytes(data)
    if not raw or raw[0] not in Opcode._value2member_map_:
        return None
    op = Opcode(raw[0])
    if op in (Opcode.START, Opcode.STOP):
        return ControlCommand(op) if len(raw) == 1 else None
    if op is Opcode.SET_RATES:
        if len(raw) != _RATES.size:
            return None
        _, emg, acc = _RATES.unpack(raw)
        if not (1 <= acc <= emg) or emg % acc:
            return None
        return ControlCommand(op, emg_rate_hz=emg, accel_rate_hz=acc)
    if len(raw) != 2 or raw[1] == 0:
        return None
    return ControlCommand(op, blocks=raw[1])


# Channel labels the detector reads: a shin (tibialis anterior) channel is used only to
# recognise leg movements, never to alarm (detector.pipeline.Pipeline docstring).
SITE_LABELS = {
    Site.TIBIALIS_ANTERIOR: "EMG shin",
    Site.GASTROCNEMIUS_MEDIAL: "EMG calf medial",
    Site.GASTROCNEMIUS_LATERAL: "EMG calf lateral",
    Site.SOLEUS: "EMG soleus",
}


def leg_name(info: DeviceInfo, fallback: str) -> str:
    """``"left"``/``"right"`` from §3 byte 14, else ``fallback`` (the wearable's label)."""
    return {Leg.LEFT: "left", Leg.RIGHT: "right"}.get(info.leg, fallback)


def emg_labels(info: DeviceInfo) -> tuple[str, ...]:
    """One detector channel label per EMG channel, from the §3 site codes."""
    return tuple(SITE_LABELS.get(site, "EMG calf") for site in info.emg_sites)
