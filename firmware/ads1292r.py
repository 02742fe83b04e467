"""ADS1292R driver (SPI, data-ready interrupt). Hardware: imports ``machine`` and ``time``.

Register values (TI ADS1291/2/2R datasheet, "Register Map"):
CONFIG1 (01h) = 0x03 continuous conversion at 1 kSPS (DR[2:0] = 011); CONFIG2 (02h) = 0xE0
lead-off comparators on, internal reference on, VREF 2.42 V; LOFF (03h) = 0xF0 comparator
thresholds 70 %/30 % (wider than the 95 %/5 % default so a slowly drying gel still counts as on),
6 nA DC lead-off current; CHnSET (04h/05h) = 0x00 gain 6, normal electrode input (0x81 powers a
channel down and shorts it); RLD_SENS (06h) = 0x33 right-leg drive on, derived from channel
1, with its lead-off sense;
LOFF_SENS (07h) = 0x0F lead-off on IN1P/N and IN2P/N; RESP1/RESP2 (09h/0Ah) = 0x02/0x03
respiration off, RLDREF internal. (Values from the datasheet's register descriptions; they are
checked on a board by ``crampwatch calibrate``, docs/hardware.md "First run".)
"""

import time

from machine import SPI, Pin

# Commands (datasheet "SPI Command Definitions").
_RESET = 0x06
_START = 0x08
_STOP = 0x0A
_RDATAC = 0x10
_SDATAC = 0x11
_WREG = 0x40
_RREG = 0x20

_DATA_RATES = {125: 0, 250: 1, 500: 2, 1000: 3, 2000: 4, 4000: 5, 8000: 6}  # CONFIG1 DR[2:0]
FRAME_BYTES = 9  # 24-bit status + 2 × 24-bit channels


class Ads1292r:
    """One ADS1292R on ``spi`` with chip select ``cs``, START and PWDN/RESET pins."""

    def __init__(self, spi: SPI, cs: Pin, start: Pin, pwdn: Pin) -> None:
        self.spi = spi
        self.cs = cs
        self.start_pin = start
        self.pwdn = pwdn
        self.frame = bytearray(FRAME_BYTES)
        self._cmd = bytearray(1)
        cs.value(1)
        start.value(0)

    def _command(self, op: int) -> None:
        self._cmd[0] = op
        self.cs.value(0)
        self.spi.write(self._cmd)
        self.cs.value(1)
        time.sleep_us(4)  # 4 tCLK between commands (datasheet "SPI timing")

    def _write(self, register: int, value: int) -> None:
        self.cs.value(0)
        self.spi.write(bytes((_WREG | register, 0, value)))
        self.cs.value(1)
        time.sleep_us(4)

    def read_register(self, register: int) -> int:
        self.cs.value(0)
        self.spi.write(bytes((_RREG | register, 0)))
        value = self.spi.read(1)[0]
        self.cs.value(1)
        return value

    def configure(self, emg_rate_hz: int, n_channels: int) -> None:
        """Reset and set up for ``emg_rate_hz`` with 1 or 2 EMG channels; leaves it stopped."""
        if emg_rate_hz not in _DATA_RATES:
            raise ValueError("ADS1292R rates: 125, 250, 500, 1000, 2000, 4000, 8000")
        self.pwdn.value(1)
        time.sleep_ms(100)  # power-on: wait for the oscillator and supplies (tPOR)
        self._command(_RESET)
        time.sleep_ms(1)
        self._command(_SDATAC)  # registers can only be written outside RDATAC
        self._write(0x01, _DATA_RATES[emg_rate_hz])  # CONFIG1
        self._write(0x02, 0xE0)  # CONFIG2: lead-off comparators, reference buffer, 2.42 V
        time.sleep_ms(150)  # internal reference settling
        self._write(0x03, 0xF0)  # LOFF
        self._write(0x04, 0x00)  # CH1SET: gain 6, electrode input
        self._write(0x05, 0x00 if n_channels > 1 else 0x81)  # CH2SET: on, or off and shorted
        self._write(0x06, 0x33)  # RLD_SENS: right-leg drive from channel 1, RLD lead-off sense
        self._write(0x07, 0x0F if n_channels > 1 else 0x03)  # LOFF_SENS
        self._write(0x09, 0x02)  # RESP1: respiration off
        self._write(0x0A, 0x03)  # RESP2: RLDREF internal (AVDD/2)

    def start(self) -> None:
        """Start conversions in continuous-read mode: DRDY falls at every sample."""
        self._command(_RDATAC)
        self.start_pin.value(1)

    def stop(self) -> None:
        self.start_pin.value(0)
        self._command(_SDATAC)

    def power_down(self) -> None:
        """Lowest current while nobody is connected (PWDN low)."""
        self.start_pin.value(0)
        self.pwdn.value(0)

    def read_frame(self) -> bytearray:
        """The latest 9-byte frame (RDATAC: clock it out after DRDY fell)."""
        self.cs.value(0)
        self.spi.readinto(self.frame)
        self.cs.value(1)
        return self.frame
