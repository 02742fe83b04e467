"""The wire format of firmware_bridge/PROTOCOL.md, written for MicroPython (no numpy, no heap
churn per notification): CRC-16, the notification header, accelerometer alignment, batch sizing,
the device-info value and control writes.

An independent implementation of the host's ``firmware_bridge/protocol.py`` and ``codec.py``;
``tests/firmware/test_wire.py`` checks both against the hex vectors of PROTOCOL.md §7.
Pure: imports only ``struct``.
"""

import struct

PROTOCOL_VERSION = 1  # §2 byte 0 of every notification and of the device info

# §2 notification header: version u8, status u8, seq u16, first_index u32, n u8, m u8.
HEADER_FORMAT = "<BBHIBB"
HEADER_SIZE = 10
CRC_SIZE = 2  # §2.4, little-endian after the samples
OVERHEAD_SIZE = HEADER_SIZE + CRC_SIZE  # §2: L = 12 + 2·C·n + 6·m
EMG_SAMPLE_SIZE = 2  # §2.2 int16 per channel
ACCEL_SAMPLE_SIZE = 6  # §2.3 int16 X, Y, Z
MAX_SAMPLES = 255  # §2 n and m are u8
SEQ_MASK = 0xFFFF  # §2.1 seq wraps 65535 -> 0
INDEX_MASK = 0xFFFFFFFF  # §2.1 first_index wraps at 2**32
STATUS_MASK = 0x7F  # §2 bits 0-5 channel lead-off, bit 6 reference; bit 7 reserved, sent as 0
ATT_NOTIFY_OVERHEAD = 3  # Core spec Vol 3 Part F §3.4.7.1: opcode u8 + handle u16
DEFAULT_ATT_MTU = 23  # Core spec Vol 3 Part F §3.2.8: before (or without) an MTU exchange

# §3 device info: version, channels, EMG rate u16, accel rate u16, µV/LSB f32, g/LSB f32, leg,
# firmware major/minor/patch, block samples, max blocks; then one site byte per channel.
DEVICE_INFO_FORMAT = "<BBHHffBBBBBB"

# §4 control opcodes.
OP_START = 0x01
OP_STOP = 0x02
OP_SET_RATES = 0x03  # u16 emg_rate_hz, u16 accel_rate_hz
OP_SET_BATCH = 0x04  # u8 blocks per notification


def _crc_table() -> list[int]:
    # CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF, unreflected, xorout 0; Greg Cook's catalogue,
    # check 0x29B1): one table entry per leading byte, MSB first.
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview, length: int = -1) -> int:
    """CRC-16/IBM-3740 of the first ``length`` bytes of ``data`` (all of it when -1), §2.4."""
    table = _CRC_TABLE
    crc = 0xFFFF
    end = len(data) if length < 0 else length
    for i in range(end):
        crc = ((crc << 8) & 0xFF00) ^ table[(crc >> 8) ^ data[i]]
    return crc


def accel_count(first_index: int, n: int, ratio: int) -> int:
    """§2.3: accelerometer samples k with first_index <= k·ratio < first_index + n (u32 index)."""
    return -(-(first_index + n) // ratio) - -(-first_index // ratio)


def notification_size(n_channels: int, n: int, m: int) -> int:
    """§2: bytes of a notification with n EMG samples per channel and m accelerometer samples."""
    return OVERHEAD_SIZE + EMG_SAMPLE_SIZE * n_channels * n + ACCEL_SAMPLE_SIZE * m


def fit_samples(n_channels: int, ratio: int, first_index: int, payload: int, limit: int) -> int:
    """§5: most EMG samples (<= ``limit``, <= 255) from ``first_index`` whose notification,
    with its due accelerometer samples, fits ``payload`` bytes (ATT_MTU − 3); 0 if none fits."""
    size = OVERHEAD_SIZE
    best = 0
    for n in range(min(limit, MAX_SAMPLES)):
        size += EMG_SAMPLE_SIZE * n_channels
        if (first_index + n) % ratio == 0:  # §2.3 an accel sample is due here (index as sent)
            size += ACCEL_SAMPLE_SIZE
        if size > payload:
            break
        best = n + 1
    return best


def pack_header(
    buf: bytearray, status: int, seq: int, first_index: int, n: int, m: int
) -> None:
    """Write the §2 header into ``buf[0:10]``."""
    struct.pack_into(
        HEADER_FORMAT,
        buf,
        0,
        PROTOCOL_VERSION,
        status & STATUS_MASK,
        seq & SEQ_MASK,
        first_index & INDEX_MASK,
        n,
        m,
    )


def seal(buf: bytearray, body_size: int) -> int:
    """Append the §2.4 CRC of ``buf[:body_size]`` after it; returns the notification length."""
    struct.pack_into("<H", buf, body_size, crc16(buf, body_size))
    return body_size + CRC_SIZE


def device_info(
    emg_rate_hz: int,
    accel_rate_hz: int,
    emg_uv_per_lsb: float,
    accel_g_per_lsb: float,
    leg: int,
    firmware_version: tuple[int, int, int],
    block_samples: int,
    max_blocks: int,
    sites: tuple[int, ...],
) -> bytes:
    """The §3 device-info value: 20 bytes + one site byte per EMG channel."""
    major, minor, patch = firmware_version
    fixed = struct.pack(
        DEVICE_INFO_FORMAT,
        PROTOCOL_VERSION,
        len(sites),
        emg_rate_hz,
        accel_rate_hz,
        emg_uv_per_lsb,
        accel_g_per_lsb,
        leg,
        major,
        minor,
        patch,
        block_samples,
        max_blocks,
    )
    return fixed + bytes(sites)


def parse_control(data: bytes | bytearray) -> tuple[int, int, int] | None:
    """A §4 control write as ``(opcode, a, b)``, or None when malformed or unknown.

    START/STOP: ``(op, 0, 0)``; SET_RATES: ``(op, emg_rate_hz, accel_rate_hz)``; SET_BATCH:
    ``(op, blocks, 0)``. Range checks against the device's limits are the caller's.
    """
    if not data:
        return None
    op = data[0]
    if op in (OP_START, OP_STOP) and len(data) == 1:
        return op, 0, 0
    if op == OP_SET_RATES and len(data) == 5:
        emg_hz, accel_hz = struct.unpack_from("<HH", data, 1)
        return op, emg_hz, accel_hz
    if op == OP_SET_BATCH and len(data) == 2:
        return op, data[1], 0
    return None
