"""LIS3DH accelerometer driver (I²C). Hardware: imports ``machine``.

ST LIS3DH datasheet (DocID17530), "Register mapping": CTRL_REG1 (20h) = 0x57 100 Hz ODR, X/Y/Z
on, normal power; CTRL_REG4 (23h) = 0x98 block data update, ±4 g, high-resolution (12 bit).
Output registers OUT_X_L (28h) … OUT_Z_H (2Dh), read with the auto-increment bit (0x80).
Sensitivity: frontend.ACCEL_G_PER_LSB.
"""

import struct

from machine import I2C

_WHO_AM_I = 0x0F
_IDENTITY = 0x33


class Lis3dh:
    """The latest X/Y/Z sample in 16-bit counts, read on demand (the EMG clock picks when)."""

    def __init__(self, i2c: I2C, address: int) -> None:
        self.i2c = i2c
        self.address = address
        self.raw = bytearray(6)
        if i2c.readfrom_mem(address, _WHO_AM_I, 1)[0] != _IDENTITY:
            raise OSError("LIS3DH not found at address " + hex(address))
        i2c.writeto_mem(address, 0x20, b"\x57")  # CTRL_REG1: 100 Hz, XYZ on
        i2c.writeto_mem(address, 0x23, b"\x98")  # CTRL_REG4: BDU, ±4 g, high resolution

    def read(self) -> tuple[int, int, int]:
        """The newest sample (counts of ``G_PER_LSB``); at 100 Hz ODR it is ≤ 10 ms old."""
        self.i2c.readfrom_mem_into(self.address, 0x28 | 0x80, self.raw)
        x, y, z = struct.unpack("<hhh", self.raw)
        return x, y, z

    def sleep(self) -> None:
        """Power-down mode (ODR 0) while nobody is connected."""
        self.i2c.writeto_mem(self.address, 0x20, b"\x07")
